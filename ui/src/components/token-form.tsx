import { useState } from 'preact/hooks';
import { api, ApiError, setToken } from '../api.ts';
import { reconnectLive, setAuth } from '../hooks.ts';

/** Asked for on any page when the server has OUTFLOW_TOKEN set; a wrong token says so. */
export function TokenForm({ refused }: { refused: boolean }) {
  const [value, setValue] = useState('');
  const [message, setMessage] = useState(refused ? 'The token you gave earlier was refused. Enter it again.' : '');
  const [busy, setBusy] = useState(false);
  return (
    <section class="panel token-panel" aria-labelledby="token-title">
      <h1 id="token-title">Access token needed</h1>
      <p class="muted">This server requires the bearer token set in its OUTFLOW_TOKEN environment variable.</p>
      <form
        class="token"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setToken(value);
          try {
            await api('/api/pipelines');
            setAuth({ needed: false, refused: false });
            reconnectLive();
          } catch (err) {
            setMessage(err instanceof ApiError && err.status === 401 ? 'Wrong token: the server refused it. Check OUTFLOW_TOKEN and try again.' : `Could not check the token: ${(err as Error).message}`);
          } finally {
            setBusy(false);
          }
        }}
      >
        <label for="token-input">Token</label>
        <input
          id="token-input"
          type="password"
          autocomplete="off"
          value={value}
          onInput={(e) => setValue((e.target as HTMLInputElement).value)}
          aria-describedby="token-message"
          aria-invalid={message ? 'true' : undefined}
          required
        />
        <button type="submit" disabled={busy}>
          {busy ? 'Checking…' : 'Continue'}
        </button>
      </form>
      <p id="token-message" class="error" role="alert" aria-live="assertive">
        {message}
      </p>
    </section>
  );
}
