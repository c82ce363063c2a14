// Sign in with a token, a userpass login, or an OIDC provider (redirect flow: the provider
// sends the browser back to /ui/oidc/callback, which finishes the login).
import { useEffect, useState } from 'react';
import type { SyntheticEvent } from 'react';
import {
  anonymousClient,
  login,
  newClientNonce,
  oidcAuthUrl,
  oidcCallback,
  openSession,
} from '../api.js';
import type { Session } from '../api.js';
import { ErrorBox, Loading, Tabs, TextField, useAction, useAsync } from '../components.js';
import { navigate } from '../router.js';

/** What the OIDC redirect needs after the round trip; no secret (the nonce binds, not grants). */
const OIDC_PENDING = 'coffer.oidc.pending';

export function oidcRedirectUri(): string {
  return `${window.location.origin}/ui/oidc/callback`;
}

export function SignIn(props: { onSignedIn: (session: Session) => void }) {
  const [method, setMethod] = useState('token');
  return (
    <section className="sign-in" aria-labelledby="sign-in-title">
      <h1 id="sign-in-title">Sign in to Coffer</h1>
      <Tabs
        label="Sign-in method"
        selected={method}
        onSelect={setMethod}
        tabs={[
          { id: 'token', title: 'Token', content: () => <TokenForm {...props} /> },
          { id: 'userpass', title: 'Username', content: () => <UserpassForm {...props} /> },
          { id: 'oidc', title: 'OIDC', content: () => <OidcForm /> },
        ]}
      />
    </section>
  );
}

function TokenForm(props: { onSignedIn: (session: Session) => void }) {
  const [token, setToken] = useState('');
  const action = useAction();
  const submit = (event: SyntheticEvent) => {
    event.preventDefault();
    void action.run(async () => {
      props.onSignedIn(await openSession(token.trim(), 'pasted'));
    });
  };
  return (
    <form onSubmit={submit} className="stack">
      <label>
        Token
        <input
          name="token"
          type="password"
          autoComplete="off"
          spellCheck={false}
          required
          value={token}
          onChange={(e) => {
            setToken(e.target.value);
          }}
        />
      </label>
      <ErrorBox error={action.error} />
      <button type="submit" className="primary" disabled={action.busy}>
        {action.busy ? 'Signing in…' : 'Sign in'}
      </button>
    </form>
  );
}

function UserpassForm(props: { onSignedIn: (session: Session) => void }) {
  const [mount, setMount] = useState('userpass');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const action = useAction();
  const submit = (event: SyntheticEvent) => {
    event.preventDefault();
    void action.run(async () => {
      const result = await login(anonymousClient(), {
        method: 'userpass',
        mount,
        username,
        password,
      });
      setPassword('');
      props.onSignedIn(await openSession(result.auth.client_token, 'login'));
    });
  };
  return (
    <form onSubmit={submit} className="stack">
      <TextField
        label="Username"
        name="username"
        value={username}
        onChange={setUsername}
        autoComplete="username"
        required
      />
      <TextField
        label="Password"
        name="password"
        value={password}
        onChange={setPassword}
        type="password"
        autoComplete="current-password"
        required
      />
      <TextField label="Mount path" name="mount" value={mount} onChange={setMount} />
      <ErrorBox error={action.error} />
      <button type="submit" className="primary" disabled={action.busy}>
        {action.busy ? 'Signing in…' : 'Sign in'}
      </button>
    </form>
  );
}

function OidcForm() {
  const [mount, setMount] = useState('oidc');
  const [role, setRole] = useState('');
  const action = useAction();
  const submit = (event: SyntheticEvent) => {
    event.preventDefault();
    void action.run(async () => {
      const clientNonce = newClientNonce();
      const url = await oidcAuthUrl(anonymousClient(), {
        mount,
        ...(role.trim() === '' ? {} : { role: role.trim() }),
        redirectUri: oidcRedirectUri(),
        clientNonce,
      });
      sessionStorage.setItem(OIDC_PENDING, JSON.stringify({ mount, clientNonce }));
      window.location.assign(url);
    });
  };
  return (
    <form onSubmit={submit} className="stack">
      <p className="hint">
        You will be sent to your identity provider, then back here. The role must allow the redirect
        URI <code>{oidcRedirectUri()}</code>.
      </p>
      <TextField label="Mount path" name="oidc-mount" value={mount} onChange={setMount} />
      <TextField
        label="Role (empty for the default role)"
        name="oidc-role"
        value={role}
        onChange={setRole}
      />
      <ErrorBox error={action.error} />
      <button type="submit" className="primary" disabled={action.busy}>
        {action.busy ? 'Redirecting…' : 'Continue with OIDC'}
      </button>
    </form>
  );
}

/**
 * The provider's redirect lands here with `code` and `state` in the query. They are read once,
 * removed from the address bar at once, and traded for a token.
 */
export function OidcCallback(props: { onSignedIn: (session: Session) => void }) {
  const [params] = useState(() => {
    const query = new URLSearchParams(window.location.search);
    window.history.replaceState(null, '', '/ui/oidc/callback');
    return query;
  });
  const result = useAsync(async () => {
    const pending = sessionStorage.getItem(OIDC_PENDING);
    sessionStorage.removeItem(OIDC_PENDING);
    if (pending === null) throw new Error('No OIDC sign-in was started in this tab');
    const { mount, clientNonce } = JSON.parse(pending) as { mount: string; clientNonce: string };
    const providerError = params.get('error');
    if (providerError !== null) throw new Error('The identity provider refused the sign-in');
    const auth = await oidcCallback(anonymousClient(), {
      mount,
      clientNonce,
      state: params.get('state') ?? '',
      code: params.get('code') ?? '',
    });
    return openSession(auth.auth.client_token, 'login');
  }, []);
  const { onSignedIn } = props;
  useEffect(() => {
    if (result.data === undefined) return;
    onSignedIn(result.data);
    navigate('secrets', undefined, { replace: true });
  }, [result.data, onSignedIn]);
  return (
    <section>
      <h1>Signing in with OIDC</h1>
      {result.loading ? <Loading label="Finishing the sign-in…" /> : null}
      <ErrorBox error={result.error} />
      {result.error !== undefined ? (
        <button
          type="button"
          onClick={() => {
            navigate('');
          }}
        >
          Back to sign in
        </button>
      ) : null}
    </section>
  );
}
