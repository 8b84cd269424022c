/**
 * `Expect: 100-continue` (curl sends it with large bodies). Node answers 100 Continue itself, before Ferry has
 * looked at the request, so a client would send a whole image before learning that its token, its image's
 * status or its Content-Type is refused. Taken over here: 100 goes out only once the body is about to be
 * read (after authentication), or, for routes with `config.continueInHandler`, when the handler calls
 * `sendContinue`. A request answered without 100 has its connection closed by Node: the client never sent
 * the body.
 * @module
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The handler itself calls sendContinue, once it has checked what it must before reading the body. */
    continueInHandler?: boolean;
  }
}

export function answerExpectContinue(app: FastifyInstance): void {
  app.server.on('checkContinue', (req, res) => app.server.emit('request', req, res));
  app.addHook('preParsing', async (request, reply) => {
    if (request.routeOptions.config.continueInHandler !== true) sendContinue(request, reply);
  });
}

/** Tells a client that waits for it (Expect: 100-continue) to send the body now; no-op otherwise. */
export function sendContinue(request: FastifyRequest, reply: FastifyReply): void {
  if (/^100-continue$/i.test(request.headers.expect ?? '') && !reply.raw.headersSent) {
    reply.raw.writeContinue();
  }
}
