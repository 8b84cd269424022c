/**
 * The local demo deployment's names and ports, in a module without dependencies so the command line can
 * show them in its help without loading the server.
 * @module
 */
export const DEMO_REGIONS = ['north-1', 'south-1', 'west-1'];
export const DEMO_BASE_PORT = 9301;
export const DEMO_ACCOUNT = 'demo';
export const DEMO_AGENCY = 'ferry_copy';
