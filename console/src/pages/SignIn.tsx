/** Sign-in with an API token (the one `npm start` prints); it is kept for the browser session only. */
import { Alert, Button, Center, Paper, PasswordInput, Stack, Text, Title } from '@mantine/core';
import { useState, type FormEvent } from 'react';
import { whoAmI } from '../api';

export function SignIn({ endpoint, onSignedIn }: { endpoint: string; onSignedIn: (token: string) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await whoAmI(endpoint, token.trim());
      onSignedIn(token.trim());
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Center h="100vh">
      <Paper withBorder shadow="sm" p="xl" w={440}>
        <form onSubmit={submit}>
          <Stack>
            <Title order={2}>Ferry console</Title>
            <Text size="sm" c="dimmed">
              Sign in with an API token (for example the one <code>npm start</code> prints). It is kept for
              this browser session only.
            </Text>
            <PasswordInput
              label="API token"
              name="token"
              autoFocus
              required
              value={token}
              onChange={(e) => setToken(e.currentTarget.value)}
            />
            {error && (
              <Alert color="red" role="alert">
                {error}
              </Alert>
            )}
            <Button type="submit" loading={busy} disabled={token.trim() === ''}>
              Sign in
            </Button>
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}
