# The hvac 0.11.2 (Debian python3-hvac) side of test/e2e/hvac-tokens.test.ts: tokens and ACL
# policies through an unmodified hvac client against a coffer dev server, one phase at a time.
#
# Usage: /usr/bin/python3 hvac_tokens_scenario.py PHASE URL   (the state as a JSON object on stdin)
#   The state holds "root_token", "canaries" (secret values) and whatever earlier phases
#   returned. Each phase prints one JSON object on stdout: the entries it adds to the state
#   (keys ending in "_token" are tokens the test later looks for in the server log).
# Exits 0 on success; on a failed check prints the step and the reason on stderr, exits 1.
import json
import calendar
import sys
import time
import urllib.error
import urllib.request

import hvac
from hvac import exceptions

from hvac_phase import run_phases

STEP = ["start"]
APP_POLICY = "hv-app"
JSON_POLICY = "hv-json-other"
JSON_POLICY_DOC = {"path": {"secret/data/other/*": {"capabilities": ["read"]}}}
DENIED = ["permission denied"]


def step(name):
    STEP[0] = name


def app_policy_hcl(readable):
    """The HCL policy; readable=False drops read from the main rule (the live-edit step)."""
    data_caps = '["read", "list"]' if readable else '["list"]'
    return "\n".join(
        [
            "# hvac e2e: read-only app secrets, a writable rw/ corner, token creation",
            'path "secret/data/app/*" {',
            "  capabilities = %s" % data_caps,
            "}",
            "",
            'path "secret/metadata/app/*" {',
            '  capabilities = ["read", "list"]',
            "}",
            "",
            'path "secret/data/app/rw/*" {',
            '  capabilities = ["create", "update"]',
            "}",
            "",
            'path "auth/token/create" {',
            '  capabilities = ["update"]',
            "}",
            "",
        ]
    )


def expect_raises(exc_type, fn, *args, **kwargs):
    """Calls fn and returns the exception it must raise (an instance of exc_type)."""
    try:
        result = fn(*args, **kwargs)
    except exc_type as err:
        return err
    raise AssertionError(
        "expected %s, got a result of type %s" % (exc_type.__name__, type(result).__name__)
    )


def expect_denied(fn, *args, **kwargs):
    """hvac must raise Forbidden with the server's error list parsed (needs exact JSON type)."""
    err = expect_raises(exceptions.Forbidden, fn, *args, **kwargs)
    assert err.errors == DENIED, "Forbidden.errors = %r" % (err.errors,)
    return err


def raw(url, method, path, token, body=None):
    """A plain HTTP request outside hvac: (status, content type, parsed body)."""
    data = None if body is None else json.dumps(body).encode("utf-8")
    req = urllib.request.Request(url + "/v1/" + path, data=data, method=method)
    req.add_header("X-Vault-Token", token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            status, ctype, text = res.status, res.headers.get("Content-Type"), res.read()
    except urllib.error.HTTPError as err:
        status, ctype, text = err.code, err.headers.get("Content-Type"), err.read()
    return status, ctype, (json.loads(text) if text else None)


def check_denied_body(body):
    """Coffer's documented 403 body: Vault's errors list plus code and request id, nothing else."""
    assert sorted(body) == ["code", "errors", "request_id"], body
    assert body["errors"] == DENIED, body
    assert body["code"] == "permission_denied", body
    assert len(body["request_id"]) == 36, body


def client_for(url, token):
    return hvac.Client(url=url, token=token)


def policies_phase(url, state):
    c = state["canaries"]
    root = client_for(url, state["root_token"])
    kv2 = root.secrets.kv.v2

    step("root writes the KV v2 secrets")
    kv2.create_or_update_secret("app/config", {"password": c["app"]}, mount_point="secret")
    kv2.create_or_update_secret("other/thing", {"value": c["other"]}, mount_point="secret")
    kv2.create_or_update_secret("forbidden", {"value": c["forbidden"]}, mount_point="secret")

    step("create_or_update_policy: HCL text and a JSON dict")
    r = root.sys.create_or_update_policy(APP_POLICY, app_policy_hcl(True))
    assert r.status_code == 204, r.status_code
    r = root.sys.create_or_update_policy(JSON_POLICY, JSON_POLICY_DOC)
    assert r.status_code == 204, r.status_code

    step("read_policy returns the documents as written")
    hcl = root.sys.read_policy(APP_POLICY)
    assert hcl["rules"] == app_policy_hcl(True), hcl
    assert hcl["data"] == {"name": APP_POLICY, "rules": app_policy_hcl(True)}, hcl["data"]
    doc = root.sys.read_policy(JSON_POLICY)
    # hvac pretty-prints a dict policy (indent 4, sorted keys) before sending it.
    assert doc["rules"] == json.dumps(JSON_POLICY_DOC, indent=4, sort_keys=True), doc["rules"]
    assert json.loads(doc["rules"]) == JSON_POLICY_DOC, doc["rules"]

    step("list_policies has root, default and both")
    listed = root.sys.list_policies()
    for view in (listed, listed["data"]):
        for name in ("root", "default", APP_POLICY, JSON_POLICY):
            assert name in view["policies"], (name, view["policies"])

    step("a JSON-policy token reads its path and nothing else")
    created = root.auth.token.create(policies=[JSON_POLICY], ttl="10m")
    json_token = created["auth"]["client_token"]
    json_client = client_for(url, json_token)
    read = json_client.secrets.kv.v2.read_secret_version("other/thing", mount_point="secret")
    assert read["data"]["data"] == {"value": c["other"]}, "other/thing differs"
    expect_denied(json_client.secrets.kv.v2.read_secret_version, "app/config", mount_point="secret")

    step("delete_policy takes the access away on the next request")
    r = root.sys.delete_policy(JSON_POLICY)
    assert r.status_code == 204, r.status_code
    expect_raises(exceptions.InvalidPath, root.sys.read_policy, JSON_POLICY)
    listed = root.sys.list_policies()
    assert JSON_POLICY not in listed["policies"], listed["policies"]
    assert "root" in listed["policies"] and "default" in listed["policies"], listed["policies"]
    expect_denied(json_client.secrets.kv.v2.read_secret_version, "other/thing", mount_point="secret")
    return {"json_token": json_token}


def lifecycle_phase(url, state):
    root = client_for(url, state["root_token"])

    step("auth.token.create(policies, ttl=1h, renewable)")
    before = time.time()
    created = root.auth.token.create(policies=[APP_POLICY], ttl="1h", renewable=True)
    auth = created["auth"]
    assert auth["policies"] == sorted(["default", APP_POLICY]), auth["policies"]
    assert auth["token_policies"] == sorted(["default", APP_POLICY]), auth["token_policies"]
    assert auth["lease_duration"] == 3600, auth["lease_duration"]
    assert (auth["renewable"], auth["orphan"]) == (True, False), (auth["renewable"], auth["orphan"])
    assert auth["token_type"] == "service", auth["token_type"]
    limited, accessor = auth["client_token"], auth["accessor"]
    assert limited and accessor and limited != accessor

    step("auth.token.lookup")
    data = root.auth.token.lookup(limited)["data"]
    assert data["id"] == limited and data["accessor"] == accessor, "id/accessor differ"
    assert "default" in data["policies"] and APP_POLICY in data["policies"], data["policies"]
    assert 3500 < data["ttl"] <= 3600, data["ttl"]
    assert data["type"] == "service", data["type"]
    assert (data["renewable"], data["orphan"]) == (True, False), (data["renewable"], data["orphan"])
    assert data["path"] == "auth/token/create", data["path"]
    assert data["expire_time"], data["expire_time"]
    expires = calendar.timegm(time.strptime(data["expire_time"][:19], "%Y-%m-%dT%H:%M:%S"))
    in_seconds = expires - before
    assert 3500 < in_seconds <= 3601, in_seconds

    step("auth.token.lookup_self")
    limited_client = client_for(url, limited)
    assert limited_client.is_authenticated() is True
    self_data = limited_client.auth.token.lookup_self()["data"]
    assert self_data["id"] == limited and self_data["accessor"] == accessor, "lookup-self differs"

    step("auth.token.lookup_accessor")
    by_accessor = root.auth.token.lookup_accessor(accessor)["data"]
    assert by_accessor["id"] == "", "lookup-accessor leaks the token id"
    assert by_accessor["accessor"] == accessor, "lookup-accessor: other accessor"
    assert by_accessor["policies"] == data["policies"], by_accessor["policies"]

    step("auth.token.renew(increment=1800) by root")
    renewed = root.auth.token.renew(limited, increment=1800)["auth"]
    assert renewed["lease_duration"] == 1800, renewed["lease_duration"]
    assert renewed["accessor"] == accessor, "renew: other accessor"
    ttl = root.auth.token.lookup(limited)["data"]["ttl"]
    assert 1700 < ttl <= 1800, ttl

    step("auth.token.renew_self(increment='50m')")
    renewed = limited_client.auth.token.renew_self(increment="50m")["auth"]
    assert renewed["lease_duration"] == 3000, renewed["lease_duration"]
    return {"limited_token": limited, "limited_accessor": accessor}


def permissions_phase(url, state):
    c = state["canaries"]
    limited = state["limited_token"]
    kv2 = client_for(url, limited).secrets.kv.v2

    step("allowed read, list and create under rw/")
    read = kv2.read_secret_version("app/config", mount_point="secret")
    assert read["data"]["data"] == {"password": c["app"]}, "app/config differs"
    assert kv2.list_secrets("app", mount_point="secret")["data"]["keys"] == ["config"]
    created = kv2.create_or_update_secret("app/rw/one", {"v": c["rw"]}, mount_point="secret")
    assert created["data"]["version"] == 1, created["data"]
    expect_denied(kv2.read_secret_version, "app/rw/one", mount_point="secret")

    step("forbidden read and read-only writes raise Forbidden(['permission denied'])")
    expect_denied(kv2.read_secret_version, "forbidden", mount_point="secret")
    expect_denied(kv2.create_or_update_secret, "app/x", {"a": "b"}, mount_point="secret")
    expect_denied(kv2.create_or_update_secret, "app/config", {"a": "b"}, mount_point="secret")

    step("the raw 403 bodies")
    for method, path, body in (
        ("GET", "secret/data/forbidden", None),
        ("POST", "secret/data/app/x", {"data": {"a": "b"}}),
    ):
        status, ctype, parsed = raw(url, method, path, limited, body)
        assert status == 403, (method, path, status)
        # hvac parses error bodies only for exactly this type.
        assert ctype == "application/json", ctype
        check_denied_body(parsed)
        assert c["forbidden"] not in json.dumps(parsed) and limited not in json.dumps(parsed)

    step("the denied write wrote nothing")
    root = client_for(url, state["root_token"])
    expect_raises(
        exceptions.InvalidPath, root.secrets.kv.v2.read_secret_version, "app/x", mount_point="secret"
    )
    return {}


def children_phase(url, state):
    root = client_for(url, state["root_token"])

    def read_app(cl):
        return cl.secrets.kv.v2.read_secret_version("app/config", mount_point="secret")

    step("a child created by a limited parent works")
    parent = root.auth.token.create(policies=[APP_POLICY], ttl="1h")["auth"]["client_token"]
    parent_client = client_for(url, parent)
    child_auth = parent_client.auth.token.create(policies=[APP_POLICY], ttl="10m")["auth"]
    child = child_auth["client_token"]
    assert child_auth["orphan"] is False, "child is an orphan"
    assert child_auth["policies"] == sorted(["default", APP_POLICY]), child_auth["policies"]
    assert read_app(client_for(url, child))["data"]["data"]["password"] == state["canaries"]["app"]

    step("a child's policies must be a subset of its parent's")
    err = expect_raises(
        exceptions.InvalidRequest, parent_client.auth.token.create, policies=[APP_POLICY, "not-held"]
    )
    assert err.errors, "no error message"

    step("revoking the parent revokes the child")
    r = root.auth.token.revoke(parent)
    assert r.status_code == 204, r.status_code
    expect_denied(read_app, client_for(url, child))
    expect_denied(parent_client.auth.token.lookup_self)
    assert client_for(url, child).is_authenticated() is False

    step("orphans created by a second root token (create-orphan and no_parent)")
    second = root.auth.token.create(policies=["root"], ttl="1h")["auth"]
    assert second["policies"] == ["root"], second["policies"]
    second_client = client_for(url, second["client_token"])
    # The legacy Client.create_token(orphan=True) posts to auth/token/create-orphan, with
    # JSON nulls for every option it was not given.
    orphan_auth = second_client.create_token(orphan=True, policies=[APP_POLICY])["auth"]
    assert orphan_auth["orphan"] is True, "create-orphan made a child"
    no_parent_auth = second_client.auth.token.create(policies=[APP_POLICY], no_parent=True)["auth"]
    assert no_parent_auth["orphan"] is True, "no_parent made a child"
    sibling = second_client.auth.token.create(policies=[APP_POLICY])["auth"]
    assert sibling["orphan"] is False, "sibling is an orphan"

    step("revoke_accessor of the second root token: orphans survive, its child does not")
    r = root.auth.token.revoke_accessor(second["accessor"])
    assert r.status_code == 204, r.status_code
    expect_denied(second_client.auth.token.lookup_self)
    expect_denied(read_app, client_for(url, sibling["client_token"]))
    for auth in (orphan_auth, no_parent_auth):
        survivor = client_for(url, auth["client_token"])
        assert read_app(survivor)["data"]["data"]["password"] == state["canaries"]["app"]
        assert survivor.auth.token.lookup_self()["data"]["orphan"] is True
    path = client_for(url, orphan_auth["client_token"]).auth.token.lookup_self()["data"]["path"]
    assert path == "auth/token/create-orphan", path
    return {
        "parent_token": parent,
        "child_token": child,
        "second_root_token": second["client_token"],
        "orphan_token": orphan_auth["client_token"],
        "no_parent_token": no_parent_auth["client_token"],
        "sibling_token": sibling["client_token"],
    }


def num_uses_phase(url, state):
    root = client_for(url, state["root_token"])
    step("a token with num_uses=2 works twice, then gets 403")
    auth = root.auth.token.create(policies=[APP_POLICY], num_uses=2)["auth"]
    assert auth["num_uses"] == 2, auth["num_uses"]
    kv2 = client_for(url, auth["client_token"]).secrets.kv.v2
    kv2.read_secret_version("app/config", mount_point="secret")
    assert root.auth.token.lookup(auth["client_token"])["data"]["num_uses"] == 1
    kv2.read_secret_version("app/config", mount_point="secret")
    expect_denied(kv2.read_secret_version, "app/config", mount_point="secret")
    return {"two_use_token": auth["client_token"]}


def capabilities_phase(url, state):
    step("sys.get_capabilities (capabilities-self) for the limited token")
    limited = client_for(url, state["limited_token"])
    paths = ["secret/data/app/config", "secret/data/app/rw/one", "secret/data/forbidden"]
    caps = limited.sys.get_capabilities(paths=paths)
    for view in (caps, caps["data"]):
        assert sorted(view["secret/data/app/config"]) == ["list", "read"], view
        assert sorted(view["secret/data/app/rw/one"]) == ["create", "update"], view
        assert view["secret/data/forbidden"] == ["deny"], view
    return {}


def names_phase(url, state):
    root = client_for(url, state["root_token"])
    step("policies named ROOT or ' root' are refused")
    for name in ("ROOT", " root"):
        err = expect_raises(
            exceptions.InvalidRequest, root.sys.create_or_update_policy, name, app_policy_hcl(True)
        )
        assert err.errors, name
    roots = [p for p in root.sys.list_policies()["policies"] if p.strip().lower() == "root"]
    assert roots == ["root"], roots

    step("a non-root token cannot create a ROOT token")
    limited = client_for(url, state["limited_token"])
    err = expect_raises(exceptions.InvalidRequest, limited.auth.token.create, policies=["ROOT"])
    assert err.errors, "no error message"
    assert state["limited_token"] not in str(err)
    return {}


def policy_edit_phase(url, state):
    root = client_for(url, state["root_token"])
    limited = client_for(url, state["limited_token"])
    kv2 = limited.secrets.kv.v2
    step("read allowed before the edit")
    kv2.read_secret_version("app/config", mount_point="secret")
    step("the edit (read removed) applies on the very next request")
    root.sys.create_or_update_policy(APP_POLICY, app_policy_hcl(False))
    expect_denied(kv2.read_secret_version, "app/config", mount_point="secret")
    caps = limited.sys.get_capabilities(paths=["secret/data/app/config"])
    assert caps["secret/data/app/config"] == ["list"], caps
    return {}


def revoke_self_phase(url, state):
    limited = client_for(url, state["limited_token"])
    step("auth.token.revoke_self")
    r = limited.auth.token.revoke_self()
    assert r.status_code == 204, r.status_code
    step("the revoked token gets 403")
    expect_denied(limited.auth.token.lookup_self)
    expect_denied(limited.secrets.kv.v2.list_secrets, "app", mount_point="secret")
    assert limited.is_authenticated() is False
    root = client_for(url, state["root_token"])
    err = expect_raises(
        exceptions.InvalidRequest, root.auth.token.lookup_accessor, state["limited_accessor"]
    )
    assert "invalid accessor" in str(err), str(err)
    return {}


PHASES = {
    "policies": policies_phase,
    "lifecycle": lifecycle_phase,
    "permissions": permissions_phase,
    "children": children_phase,
    "num-uses": num_uses_phase,
    "capabilities": capabilities_phase,
    "names": names_phase,
    "policy-edit": policy_edit_phase,
    "revoke-self": revoke_self_phase,
}


def main(argv):
    return run_phases(argv, PHASES, STEP, "hvac_tokens_scenario.py")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
