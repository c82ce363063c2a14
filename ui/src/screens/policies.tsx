// Policies: the list, an editor that points at a syntax error's line and column, and the
// explainer ("can token/role X do operation Y on path Z, and which rule decides").
import { useEffect, useId, useRef, useState } from 'react';
import type { SyntheticEvent } from 'react';
import { ApiError, POLICY_OPERATIONS } from '../api.js';
import type { ExplainSubject, PolicyExplanation, PolicyOperation, Session } from '../api.js';
import {
  ConfirmButton,
  ErrorBox,
  Loading,
  Notice,
  Title,
  useAction,
  useAsync,
} from '../components.js';
import { offsetOf, sourcePosition } from '../lib/diff.js';
import type { SourcePosition } from '../lib/diff.js';
import { Link, navigate } from '../router.js';

const NEW_POLICY = `# Who may do what, path by path.
path "secret/data/example/*" {
  capabilities = ["read", "list"]
}
`;

export function PoliciesScreen(props: { session: Session; name: string; query: URLSearchParams }) {
  const list = useAsync(() => props.session.client.listPolicies(), [props.session]);
  const creating = props.name === '' && props.query.get('new') === '1';
  return (
    <div className="split">
      <nav aria-label="Policies" className="list-pane">
        <h2>Policies</h2>
        <Link to="policies" query={{ new: '1' }} className="button primary">
          New policy
        </Link>
        {list.loading ? <Loading /> : null}
        <ErrorBox error={list.error} />
        <ul>
          {list.data?.map((name) => (
            <li key={name}>
              <Link to={`policies/${name}`} current={name === props.name}>
                {name}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <section className="detail-pane" aria-label="Policy">
        {props.name !== '' || creating ? (
          <PolicyEditor
            key={props.name || 'new'}
            session={props.session}
            name={props.name}
            line={Number(props.query.get('line') ?? '0')}
            onSaved={list.reload}
          />
        ) : (
          <>
            <Title>Policies</Title>
            <p>Choose a policy to read or edit it, or create a new one.</p>
          </>
        )}
      </section>
    </div>
  );
}

function PolicyEditor(props: {
  session: Session;
  name: string;
  line: number;
  onSaved: () => void;
}) {
  const isNew = props.name === '';
  const policy = useAsync(
    async () =>
      isNew ? { name: '', policy: NEW_POLICY } : props.session.client.readPolicy(props.name),
    [props.name],
  );
  const [name, setName] = useState(props.name);
  const [text, setText] = useState<string | undefined>(undefined);
  const [position, setPosition] = useState<SourcePosition | undefined>(undefined);
  const [saved, setSaved] = useState(false);
  const action = useAction();
  const area = useRef<HTMLTextAreaElement>(null);
  const gutter = useRef<HTMLPreElement>(null);
  const errorId = useId();
  const value = text ?? policy.data?.policy ?? '';

  // Opened from the explainer at a line: put the caret there.
  useEffect(() => {
    if (policy.data === undefined || props.line <= 0 || area.current === null) return;
    const offset = offsetOf(policy.data.policy, props.line, 1);
    area.current.focus();
    area.current.setSelectionRange(offset, offset);
  }, [policy.data, props.line]);

  if (policy.loading && policy.data === undefined) return <Loading />;
  if (policy.error !== undefined) return <ErrorBox error={policy.error} />;
  if (policy.data === undefined) return <Notice>There is no policy named {props.name}.</Notice>;

  const save = (event: SyntheticEvent) => {
    event.preventDefault();
    setPosition(undefined);
    setSaved(false);
    void action.run(async () => {
      const target = isNew ? name.trim() : props.name;
      if (target === '') throw new Error('The policy needs a name');
      try {
        await props.session.client.writePolicy(target, value);
      } catch (error) {
        const at = error instanceof ApiError ? sourcePosition(error.errors[0] ?? '') : undefined;
        if (at !== undefined && area.current !== null) {
          setPosition(at);
          const offset = offsetOf(value, at.line, at.column);
          area.current.focus();
          area.current.setSelectionRange(offset, offset + 1);
        }
        throw error;
      }
      setSaved(true);
      props.onSaved();
      if (isNew) navigate(`policies/${target.toLowerCase()}`);
    });
  };
  const remove = () => {
    void action.run(async () => {
      await props.session.client.deletePolicy(props.name);
      props.onSaved();
      navigate('policies');
    });
  };
  const lines = value.split('\n');
  const badLine = position === undefined ? undefined : lines[position.line - 1];
  return (
    <form onSubmit={save} className="stack">
      <Title>{isNew ? 'New policy' : `Policy ${props.name}`}</Title>
      {isNew ? (
        <label>
          Name
          <input
            name="policy-name"
            required
            value={name}
            onChange={(e) => {
              setName(e.target.value);
            }}
          />
        </label>
      ) : null}
      <div className="editor">
        <pre className="gutter" aria-hidden="true" ref={gutter}>
          {lines.map((_, i) => (
            <span key={i} className={position?.line === i + 1 ? 'bad' : undefined}>
              {i + 1}
              {'\n'}
            </span>
          ))}
        </pre>
        <label className="editor-label">
          <span className="visually-hidden">Policy text (HCL or JSON)</span>
          <textarea
            ref={area}
            className="code"
            name="policy-text"
            rows={Math.max(12, lines.length + 1)}
            spellCheck={false}
            autoCapitalize="off"
            value={value}
            aria-invalid={position !== undefined}
            aria-describedby={position === undefined ? undefined : errorId}
            onScroll={(e) => {
              if (gutter.current !== null) gutter.current.scrollTop = e.currentTarget.scrollTop;
            }}
            onChange={(e) => {
              setText(e.target.value);
              setSaved(false);
            }}
          />
        </label>
      </div>
      {position !== undefined ? (
        <div className="error syntax" id={errorId} role="alert">
          <strong>
            Line {position.line}, column {position.column}:
          </strong>{' '}
          {position.message}
          <pre className="pointer" aria-hidden="true">
            {badLine ?? ''}
            {'\n'}
            {' '.repeat(Math.max(0, position.column - 1))}^
          </pre>
        </div>
      ) : (
        <ErrorBox error={action.error} />
      )}
      {saved ? (
        <p role="status" className="ok">
          Saved.
        </p>
      ) : null}
      <div className="row">
        <button type="submit" className="primary" disabled={action.busy}>
          {action.busy ? 'Saving…' : 'Save policy'}
        </button>
        {!isNew && props.name !== 'default' && props.name !== 'root' ? (
          <ConfirmButton
            label="Delete"
            danger
            question={`Delete the policy ${props.name}? Tokens that have it lose what it granted.`}
            onConfirm={remove}
          />
        ) : null}
        {!isNew ? (
          <Link to="explain" query={{ policies: props.name }} className="button">
            Explain with this policy
          </Link>
        ) : null}
      </div>
    </form>
  );
}

type SubjectKind = 'self' | 'accessor' | 'policies';

export function ExplainScreen(props: { session: Session; query: URLSearchParams }) {
  const initialPolicies = props.query.get('policies') ?? '';
  const [path, setPath] = useState(props.query.get('path') ?? '');
  const [operation, setOperation] = useState<PolicyOperation>('read');
  const [kind, setKind] = useState<SubjectKind>(initialPolicies === '' ? 'self' : 'policies');
  const [accessor, setAccessor] = useState('');
  const [policies, setPolicies] = useState(initialPolicies);
  const [result, setResult] = useState<PolicyExplanation | undefined>(undefined);
  const action = useAction();
  const submit = (event: SyntheticEvent) => {
    event.preventDefault();
    void action.run(async () => {
      setResult(undefined);
      let subject: ExplainSubject | undefined;
      if (kind === 'accessor') subject = { accessor: accessor.trim() };
      if (kind === 'policies') {
        subject = {
          policies: policies
            .split(',')
            .map((p) => p.trim())
            .filter((p) => p !== ''),
        };
      }
      setResult(await props.session.client.explainPolicy(path.trim(), operation, subject));
    });
  };
  return (
    <div className="stack">
      <Title>Explain access</Title>
      <p>
        Ask whether a token, or a role&apos;s policies, may do an operation on a path, and which
        rule decides.
      </p>
      <form onSubmit={submit} className="stack">
        <fieldset>
          <legend>Whose access</legend>
          <label className="checkbox">
            <input
              type="radio"
              name="subject"
              checked={kind === 'self'}
              onChange={() => {
                setKind('self');
              }}
            />
            Mine (this session&apos;s token)
          </label>
          <label className="checkbox">
            <input
              type="radio"
              name="subject"
              checked={kind === 'accessor'}
              onChange={() => {
                setKind('accessor');
              }}
            />
            A token, by accessor
          </label>
          {kind === 'accessor' ? (
            <label>
              Accessor
              <input
                name="accessor"
                required
                value={accessor}
                spellCheck={false}
                onChange={(e) => {
                  setAccessor(e.target.value);
                }}
              />
            </label>
          ) : null}
          <label className="checkbox">
            <input
              type="radio"
              name="subject"
              checked={kind === 'policies'}
              onChange={() => {
                setKind('policies');
              }}
            />
            A set of policies (a role&apos;s)
          </label>
          {kind === 'policies' ? (
            <label>
              Policies, comma-separated
              <input
                name="policies"
                required
                value={policies}
                onChange={(e) => {
                  setPolicies(e.target.value);
                }}
              />
            </label>
          ) : null}
        </fieldset>
        <label>
          Path
          <input
            name="explain-path"
            required
            value={path}
            spellCheck={false}
            placeholder="secret/data/app/db"
            onChange={(e) => {
              setPath(e.target.value);
            }}
          />
        </label>
        <label>
          Operation
          <select
            name="operation"
            value={operation}
            onChange={(e) => {
              setOperation(e.target.value as PolicyOperation);
            }}
          >
            {POLICY_OPERATIONS.map((op) => (
              <option key={op} value={op}>
                {op}
              </option>
            ))}
          </select>
        </label>
        <ErrorBox error={action.error} />
        <button type="submit" className="primary" disabled={action.busy}>
          {action.busy ? 'Explaining…' : 'Explain'}
        </button>
      </form>
      {result === undefined ? null : <Explanation result={result} />}
    </div>
  );
}

function Explanation(props: { result: PolicyExplanation }) {
  const { result } = props;
  return (
    <section aria-labelledby="explain-result" className="stack">
      <h2 id="explain-result">
        {result.allowed === undefined ? 'Capabilities' : result.allowed ? 'Allowed' : 'Denied'}:{' '}
        <code>{result.operation ?? ''}</code> on <code>{result.path}</code>
      </h2>
      <p className={result.allowed === false ? 'verdict denied' : 'verdict allowed'} role="status">
        {result.reason}
      </p>
      <p>
        Capabilities on this path: <code>{result.capabilities.join(', ') || 'none'}</code>
        {result.policies === undefined ? null : <> · Policies: {result.policies.join(', ')}</>}
      </p>
      {result.matches.length === 0 ? (
        <Notice>No rule of these policies matches this path, so it is denied.</Notice>
      ) : (
        <table>
          <caption>Rules that match, the deciding one marked</caption>
          <thead>
            <tr>
              <th scope="col">Decides</th>
              <th scope="col">Policy</th>
              <th scope="col">Rule</th>
              <th scope="col">Kind</th>
              <th scope="col">Capabilities</th>
            </tr>
          </thead>
          <tbody>
            {result.matches.map((m) => (
              <tr
                key={`${m.policy}:${m.line}:${m.pattern}`}
                className={m.used ? 'deciding' : undefined}
              >
                <td>{m.used ? 'Yes, this rule decides' : 'no'}</td>
                <td>
                  <Link to={`policies/${m.policy}`} query={{ line: String(m.line) }}>
                    {m.policy} line {m.line}
                  </Link>
                </td>
                <td>
                  <code>{m.pattern}</code>
                </td>
                <td>{m.kind}</td>
                <td>
                  <code>{m.capabilities.join(', ')}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
