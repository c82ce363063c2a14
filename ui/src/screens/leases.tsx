// Leases: browse lease ids by prefix (sudo), see each one's expiry, renew or revoke it, and
// revoke a whole prefix after seeing how many leases it holds.
import { useState } from 'react';
import type { SyntheticEvent } from 'react';
import { isNotFound, listLeases } from '../api.js';
import type { LeaseInfo, Session } from '../api.js';
import {
  ConfirmButton,
  ErrorBox,
  formatSeconds,
  formatTime,
  Loading,
  Notice,
  Title,
  useAction,
  useAsync,
} from '../components.js';
import { Link, navigate } from '../router.js';

export function LeasesScreen(props: { session: Session; prefix: string }) {
  const prefix =
    props.prefix === '' || props.prefix.endsWith('/') ? props.prefix : `${props.prefix}/`;
  const [typed, setTyped] = useState(prefix);
  const listing = useAsync(async () => {
    try {
      return await listLeases(props.session.client, prefix);
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
  }, [prefix]);
  const action = useAction();
  const [done, setDone] = useState('');
  const leaves = (listing.data ?? []).filter((k) => !k.endsWith('/'));
  const folders = (listing.data ?? []).filter((k) => k.endsWith('/'));
  const revokePrefix = () => {
    void action.run(async () => {
      await props.session.client.revokeLease({ kind: 'prefix', prefix });
      setDone(`Revoked every lease under ${prefix}.`);
      listing.reload();
    });
  };
  const crumbs = prefix.split('/').filter((s) => s !== '');
  return (
    <div className="stack">
      <Title>Leases</Title>
      <form
        className="row"
        onSubmit={(e: SyntheticEvent) => {
          e.preventDefault();
          navigate(`leases/${typed.replace(/^\/+/, '')}`);
        }}
      >
        <label>
          Prefix
          <input
            name="lease-prefix"
            value={typed}
            placeholder="database/creds/"
            onChange={(e) => {
              setTyped(e.target.value);
            }}
          />
        </label>
        <button type="submit">Go</button>
      </form>
      <nav aria-label="Lease prefix" className="crumbs">
        <Link to="leases">all</Link>
        {crumbs.map((c, i) => (
          <span key={i}>
            {' / '}
            <Link to={`leases/${crumbs.slice(0, i + 1).join('/')}/`}>{c}</Link>
          </span>
        ))}
      </nav>
      {listing.loading ? <Loading /> : null}
      <ErrorBox error={listing.error} />
      {done === '' ? null : (
        <p role="status" className="ok">
          {done}
        </p>
      )}
      <ErrorBox error={action.error} />
      {listing.data !== undefined && listing.data.length === 0 ? (
        <Notice>No leases under this prefix.</Notice>
      ) : null}
      {folders.length > 0 ? (
        <ul className="plain">
          {folders.map((f) => (
            <li key={f}>
              <Link to={`leases/${prefix}${f}`}>{f}</Link>
            </li>
          ))}
        </ul>
      ) : null}
      {leaves.length > 0 ? (
        <table>
          <caption>Leases under {prefix || '(all)'}</caption>
          <thead>
            <tr>
              <th scope="col">Lease</th>
              <th scope="col">Issued</th>
              <th scope="col">Expires</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {leaves.map((id) => (
              <LeaseRow
                key={id}
                session={props.session}
                leaseId={`${prefix}${id}`}
                onRevoked={listing.reload}
              />
            ))}
          </tbody>
        </table>
      ) : null}
      {prefix !== '' && listing.data !== undefined && listing.data.length > 0 ? (
        <ConfirmButton
          label={`Revoke all under ${prefix}`}
          danger
          question={`Revoke every lease under ${prefix}? This prefix holds ${leaves.length} lease(s) here and ${folders.length} sub-prefix(es).`}
          onConfirm={revokePrefix}
        />
      ) : null}
    </div>
  );
}

/** A lease with its expiry; the bar shows the share of its life left. */
export function LeaseRow(props: { session: Session; leaseId: string; onRevoked: () => void }) {
  const lease = useAsync(() => props.session.client.lookupLease(props.leaseId), [props.leaseId]);
  const action = useAction();
  const renew = () => {
    void action.run(async () => {
      await props.session.client.renewLease(props.leaseId);
      lease.reload();
    });
  };
  const revoke = () => {
    void action.run(async () => {
      await props.session.client.revokeLease({ kind: 'lease', leaseId: props.leaseId });
      props.onRevoked();
    });
  };
  const info: LeaseInfo | undefined = lease.data?.info;
  return (
    <tr>
      <th scope="row">
        <code className="wrap">{props.leaseId}</code>
      </th>
      <td>{info === undefined ? '' : formatTime(info.issue_time)}</td>
      <td>
        {lease.loading ? <Loading /> : null}
        <ErrorBox error={lease.error} />
        {info === undefined ? null : <Expiry info={info} />}
      </td>
      <td>
        <div className="row">
          <ErrorBox error={action.error} />
          {info?.renewable === true ? (
            <button type="button" className="small" onClick={renew} disabled={action.busy}>
              Renew<span className="visually-hidden"> {props.leaseId}</span>
            </button>
          ) : null}
          <button type="button" className="small danger" onClick={revoke} disabled={action.busy}>
            Revoke<span className="visually-hidden"> {props.leaseId}</span>
          </button>
        </div>
      </td>
    </tr>
  );
}

export function Expiry(props: { info: LeaseInfo }) {
  const { info } = props;
  const issued = info.issue_time === undefined ? NaN : Date.parse(info.issue_time);
  const expires =
    info.expire_time === null || info.expire_time === undefined
      ? NaN
      : Date.parse(info.expire_time);
  const total = expires - issued;
  const left =
    Number.isFinite(total) && total > 0 ? Math.max(0, Math.min(1, (info.ttl * 1000) / total)) : 1;
  return (
    <span className="expiry">
      {formatTime(info.expire_time)} ({formatSeconds(info.ttl)} left)
      <meter
        min={0}
        max={1}
        value={left}
        aria-label={`Share of the lease's life left: ${Math.round(left * 100)}%`}
      />
    </span>
  );
}
