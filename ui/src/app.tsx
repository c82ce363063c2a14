// The application shell: session (sign in, resume after reload, sign out), the navigation the
// token's capabilities allow, and the screen for the current route.
import { useCallback, useEffect, useRef, useState } from 'react';
import type { ReactNode } from 'react';
import { closeSession, resumeSession } from './api.js';
import type { NavAccess, Session } from './api.js';
import { ErrorBox, Loading } from './components.js';
import { Link, navigate, useRoute } from './router.js';
import { AccessScreen } from './screens/access.js';
import { AuditScreen } from './screens/audit.js';
import { DatabaseScreen } from './screens/database.js';
import { LeasesScreen } from './screens/leases.js';
import { ExplainScreen, PoliciesScreen } from './screens/policies.js';
import { SecretsScreen } from './screens/secrets.js';
import { ShareOpenScreen } from './screens/share.js';
import { OidcCallback, SignIn } from './screens/sign-in.js';
import { TokensScreen } from './screens/tokens.js';

interface NavItem {
  readonly route: string;
  readonly title: string;
  readonly allowed: (nav: NavAccess, session: Session) => boolean;
}

const NAV: readonly NavItem[] = [
  { route: 'secrets', title: 'Secrets', allowed: () => true },
  { route: 'policies', title: 'Policies', allowed: (nav) => nav.policies },
  { route: 'explain', title: 'Explain access', allowed: (nav) => nav.explain },
  { route: 'tokens', title: 'Tokens', allowed: () => true },
  { route: 'access', title: 'Auth methods', allowed: (nav) => nav.auth },
  { route: 'leases', title: 'Leases', allowed: (nav) => nav.leases },
  { route: 'database', title: 'Databases', allowed: (nav) => nav.mounts },
  { route: 'audit', title: 'Audit', allowed: (nav) => nav.audit },
];

export function App() {
  const { path, query } = useRoute();
  const [session, setSession] = useState<Session | undefined>(undefined);
  const [resuming, setResuming] = useState(true);
  const [signOutError, setSignOutError] = useState<unknown>(undefined);

  useEffect(() => {
    resumeSession().then(
      (resumed) => {
        setSession(resumed);
        setResuming(false);
      },
      () => {
        setResuming(false);
      },
    );
  }, []);

  const onSignedIn = useCallback((next: Session) => {
    setSession(next);
    setSignOutError(undefined);
  }, []);

  const signOut = (revoke: boolean) => {
    if (session === undefined) return;
    closeSession(session, revoke).then(
      () => {
        setSession(undefined);
        navigate('');
      },
      (error: unknown) => {
        // The token is forgotten here either way; say that the server did not revoke it.
        setSignOutError(error);
        setSession(undefined);
        navigate('');
      },
    );
  };

  const [section = '', ...rest] = path.split('/');

  // Pages that work without signing in.
  if (section === 'share')
    return (
      <Shell>
        <ShareOpenScreen />
      </Shell>
    );
  if (section === 'oidc' && rest[0] === 'callback') {
    return (
      <Shell>
        <OidcCallback onSignedIn={onSignedIn} />
      </Shell>
    );
  }
  if (resuming)
    return (
      <Shell>
        <Loading label="Opening Coffer…" />
      </Shell>
    );
  if (session === undefined) {
    return (
      <Shell>
        {signOutError === undefined ? null : (
          <ErrorBox
            title="Signed out here, but the server did not revoke the token:"
            error={signOutError}
          />
        )}
        <SignIn onSignedIn={onSignedIn} />
      </Shell>
    );
  }

  const items = NAV.filter((item) => item.allowed(session.nav, session));
  const active = section === '' ? 'secrets' : section;
  return (
    <Shell
      header={
        <div className="session">
          <span className="who">
            Signed in as <strong>{session.info.display_name ?? 'token'}</strong>
            <span className="policies"> ({session.info.policies.join(', ')})</span>
          </span>
          <SignOutButton origin={session.origin} onSignOut={signOut} />
        </div>
      }
      nav={
        <nav aria-label="Main" className="main-nav">
          <ul>
            {items.map((item) => (
              <li key={item.route}>
                <Link to={item.route} current={active === item.route}>
                  {item.title}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
      }
    >
      <Screen session={session} section={active} rest={rest} query={query} />
    </Shell>
  );
}

function Screen(props: {
  session: Session;
  section: string;
  rest: string[];
  query: URLSearchParams;
}) {
  const { session, section, rest, query } = props;
  switch (section) {
    case 'secrets':
      return <SecretsScreen session={session} path={rest.join('/')} />;
    case 'policies':
      return <PoliciesScreen session={session} name={rest[0] ?? ''} query={query} />;
    case 'explain':
      return <ExplainScreen session={session} query={query} />;
    case 'tokens':
      return <TokensScreen session={session} />;
    case 'access':
      return <AccessScreen session={session} mount={rest[0] ?? ''} />;
    case 'leases':
      return <LeasesScreen session={session} prefix={rest.join('/')} />;
    case 'database':
      return <DatabaseScreen session={session} mount={rest[0] ?? ''} />;
    case 'audit':
      return <AuditScreen session={session} device={rest[0] ?? ''} />;
    default:
      return (
        <section>
          <h1>Not found</h1>
          <p>There is no screen at this address.</p>
          <Link to="secrets">Go to secrets</Link>
        </section>
      );
  }
}

/**
 * Sign-out revokes the token. A token the UI got from a login is revoked at once; for a token
 * the person pasted (maybe the one they use everywhere), revoking is the default but they may
 * keep it valid.
 */
function SignOutButton(props: { origin: Session['origin']; onSignOut: (revoke: boolean) => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  if (props.origin === 'login') {
    return (
      <button
        type="button"
        onClick={() => {
          props.onSignOut(true);
        }}
      >
        Sign out
      </button>
    );
  }
  return (
    <>
      <button type="button" onClick={() => dialog.current?.showModal()}>
        Sign out
      </button>
      <dialog ref={dialog} aria-labelledby="sign-out-title">
        <p id="sign-out-title">
          Signing out revokes the token you signed in with, so it stops working everywhere.
        </p>
        <div className="row">
          <button
            type="button"
            className="primary"
            onClick={() => {
              dialog.current?.close();
              props.onSignOut(true);
            }}
          >
            Revoke the token and sign out
          </button>
          <button
            type="button"
            onClick={() => {
              dialog.current?.close();
              props.onSignOut(false);
            }}
          >
            Sign out, keep the token valid
          </button>
          <button type="button" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
        </div>
      </dialog>
    </>
  );
}

/** Header, skip link and the main landmark; `nav` (signed in) adds the side navigation. */
function Shell(props: { children: ReactNode; header?: ReactNode; nav?: ReactNode }) {
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">Coffer</span>
        {props.header}
      </header>
      <div className={props.nav === undefined ? 'layout single' : 'layout'}>
        {props.nav}
        <main id="main" tabIndex={-1}>
          {props.children}
        </main>
      </div>
    </>
  );
}
