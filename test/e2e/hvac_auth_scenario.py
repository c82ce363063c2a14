# The hvac 0.11.2 (Debian python3-hvac) side of test/e2e/auth-hvac.test.ts: Coffer's auth methods
# configured and logged in to through an unmodified hvac client, one phase per method, and the
# token each login hands out used within its policies, refused beyond them, renewed with
# renew_self, revoked with revoke_self and refused afterwards.
#
# Usage: /usr/bin/python3 hvac_auth_scenario.py PHASE URL   (the state as a JSON object on stdin)
#   The state holds "root_token", "password", "canaries" (secret values) and, for the jwt and
#   kubernetes phases, the signed tokens and the API server address the test prepared. Each
#   phase prints one JSON object on stdout: the entries it adds to the state (every value is a
#   credential the test later looks for in the server's output).
# Exits 0 on success; on a failed check prints the step and the reason on stderr, exits 1.
import sys

import hvac
from hvac import exceptions

from hvac_phase import run_phases

STEP = ["start"]
POLICY = "hv-auth-app"
APP = "hv-auth/app"
FORBIDDEN = "hv-auth/forbidden"
POLICY_HCL = "\n".join(
    [
        "# hvac auth e2e: read one secret, nothing else",
        'path "secret/data/%s" {' % APP,
        '  capabilities = ["read"]',
        "}",
        "",
    ]
)
USERPASS = "hv-userpass"
APPROLE = "hv-approle"
JWT = "hv-jwt"
KUBERNETES = "hv-k8s"
TTL = 600


def step(name):
    STEP[0] = name


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
    """hvac must raise Forbidden with the server's error list parsed."""
    err = expect_raises(exceptions.Forbidden, fn, *args, **kwargs)
    assert err.errors == ["permission denied"], "Forbidden.errors = %r" % (err.errors,)
    return err


def expect_no_content(response):
    """A write that answers 204 (hvac hands back the requests Response)."""
    assert response.status_code == 204, response.status_code


def client_for(url, token=None):
    return hvac.Client(url=url, token=token)


def read_app(client):
    return client.secrets.kv.v2.read_secret_version(APP, mount_point="secret")


def lifecycle(url, state, client, login, want):
    """The checks every method's token goes through. `client` logged in with `login` (the
    response); `want` holds display_name, path and metadata (entries that must be present)."""
    c = state["canaries"]
    auth = login["auth"]
    token = auth["client_token"]

    step("the login response: an orphan service token with the policy plus default")
    assert auth["policies"] == ["default", POLICY], auth["policies"]
    assert auth["token_policies"] == ["default", POLICY], auth["token_policies"]
    assert auth["lease_duration"] == TTL, auth["lease_duration"]
    assert auth["renewable"] is True and auth["orphan"] is True, (auth["renewable"], auth["orphan"])
    assert auth["token_type"] == "service", auth["token_type"]
    assert auth["num_uses"] == 0, auth["num_uses"]
    for key, value in want["metadata"].items():
        assert auth["metadata"].get(key) == value, (key, auth["metadata"])
    assert token.startswith("cfs."), "not a Coffer service token"
    # hvac's Adapter.login: the client now speaks as the new token.
    assert client.token == token, "the client did not take over the token"
    assert client.is_authenticated() is True

    step("lookup_self: display name, path, metadata, TTL")
    data = client.auth.token.lookup_self()["data"]
    assert data["id"] == token and data["accessor"] == auth["accessor"], "lookup-self differs"
    assert data["display_name"] == want["display_name"], data["display_name"]
    assert data["path"] == want["path"], data["path"]
    assert data["orphan"] is True and data["type"] == "service", (data["orphan"], data["type"])
    assert TTL - 60 < data["ttl"] <= TTL, data["ttl"]
    for key, value in want["metadata"].items():
        assert data["meta"].get(key) == value, (key, data["meta"])

    step("the token reads the KV v2 secret its policy grants")
    assert read_app(client)["data"]["data"] == {"value": c["app"]}, "app secret differs"

    step("403 beyond its policies: another secret, a write, sys/policy")
    kv2 = client.secrets.kv.v2
    expect_denied(kv2.read_secret_version, FORBIDDEN, mount_point="secret")
    expect_denied(kv2.create_or_update_secret, APP, {"value": "overwrite"}, mount_point="secret")
    expect_denied(client.sys.list_policies)
    root = client_for(url, state["root_token"])
    assert read_app(root)["data"]["data"] == {"value": c["app"]}, "the refused write wrote"

    step("renew_self(increment=120), then renew_self() back to the TTL")
    renewed = client.auth.token.renew_self(increment=120)["auth"]
    assert renewed["client_token"] == token and renewed["lease_duration"] == 120, renewed
    assert 100 < client.auth.token.lookup_self()["data"]["ttl"] <= 120
    renewed = client.auth.token.renew_self()["auth"]
    assert renewed["lease_duration"] == TTL, renewed["lease_duration"]

    step("revoke_self; afterwards the token gets 403")
    expect_no_content(client.auth.token.revoke_self())
    expect_denied(read_app, client)
    expect_denied(client.auth.token.lookup_self)
    expect_denied(client.auth.token.renew_self)
    assert client.is_authenticated() is False
    err = expect_raises(
        exceptions.InvalidRequest, root.auth.token.lookup_accessor, auth["accessor"]
    )
    assert "invalid accessor" in str(err), str(err)


def check_logins(url, state, what, login, refused, refusal, good, want):
    """The logins every method goes through, by `login(client, credentials)` (`what` names it
    in the steps): `refused` credentials must raise refusal = (exception type, the server's one
    error) and set no token; with `good` ones the token goes through lifecycle, and its
    client_token is returned."""
    step("%s with bad credentials raises %s" % (what, refusal[0].__name__))
    client = client_for(url)
    err = expect_raises(refusal[0], login, client, refused)
    assert err.errors == [refusal[1]], err.errors
    assert not client.token, "a failed login set a token"

    step(what)
    response = login(client, good)
    lifecycle(url, state, client, response, want)
    return response["auth"]["client_token"]


def setup_phase(url, state):
    c = state["canaries"]
    root = client_for(url, state["root_token"])
    step("root writes the KV v2 secrets and the policy")
    root.secrets.kv.v2.create_or_update_secret(APP, {"value": c["app"]}, mount_point="secret")
    root.secrets.kv.v2.create_or_update_secret(
        FORBIDDEN, {"value": c["forbidden"]}, mount_point="secret"
    )
    expect_no_content(root.sys.create_or_update_policy(POLICY, POLICY_HCL))

    step("sys.enable_auth_method: userpass (with options) and approle")
    expect_no_content(
        root.sys.enable_auth_method(
            "userpass",
            path=USERPASS,
            description="hvac e2e",
            options={"login_rate_burst": "100", "login_rate_per_second": "50"},
        )
    )
    expect_no_content(root.sys.enable_auth_method("approle", path=APPROLE))

    step("sys.list_auth_methods lists them")
    listed = root.sys.list_auth_methods()
    for view in (listed, listed["data"]):
        assert view[USERPASS + "/"]["type"] == "userpass", view[USERPASS + "/"]
        assert view[USERPASS + "/"]["description"] == "hvac e2e"
        assert view[USERPASS + "/"]["options"] == {
            "login_rate_burst": "100",
            "login_rate_per_second": "50",
        }, view[USERPASS + "/"]["options"]
        assert view[APPROLE + "/"]["type"] == "approle", view[APPROLE + "/"]
        assert view["token/"]["type"] == "token", view["token/"]
    return {}


def userpass_phase(url, state):
    root = client_for(url, state["root_token"])
    user = "hv-bob"
    password = state["password"]

    step("auth.userpass.create_or_update_user (policies list, token_* kwargs)")
    expect_no_content(
        root.auth.userpass.create_or_update_user(
            user,
            password=password,
            policies=[POLICY],
            token_ttl="10m",
            token_max_ttl="1h",
            mount_point=USERPASS,
        )
    )

    step("read_user and list_user; the password never comes back")
    read = root.auth.userpass.read_user(user, mount_point=USERPASS)
    assert read["data"]["token_policies"] == [POLICY], read["data"]
    assert read["data"]["token_ttl"] == TTL and read["data"]["token_max_ttl"] == 3600, read["data"]
    assert password not in str(read) and "argon2" not in str(read), "the password leaked"
    listed = root.auth.userpass.list_user(mount_point=USERPASS)
    assert listed["data"]["keys"] == [user], listed["data"]

    token = check_logins(
        url,
        state,
        "auth.userpass.login (the username in another case)",
        lambda client, creds: client.auth.userpass.login(*creds, mount_point=USERPASS),
        (user, "not it"),
        (exceptions.InvalidRequest, "invalid username or password"),
        (" " + user.upper(), password),
        {
            "display_name": USERPASS + "-" + user,
            # The path as requested (URL-decoded), as Vault records it.
            "path": "auth/%s/login/ %s" % (USERPASS, user.upper()),
            "metadata": {"username": user},
        },
    )
    return {"userpass_token": token}


def approle_phase(url, state):
    root = client_for(url, state["root_token"])
    approle = root.auth.approle
    role = "hv-app"

    step("auth.approle.create_or_update_approle and read_role")
    expect_no_content(
        approle.create_or_update_approle(
            role,
            token_policies=[POLICY],
            token_ttl="10m",
            token_max_ttl="1h",
            secret_id_num_uses=5,
            secret_id_ttl="1h",
            mount_point=APPROLE,
        )
    )
    read = approle.read_role(role, mount_point=APPROLE)["data"]
    assert read["token_policies"] == [POLICY], read
    assert (read["token_ttl"], read["token_max_ttl"]) == (TTL, 3600), read
    assert (read["secret_id_num_uses"], read["secret_id_ttl"]) == (5, 3600), read
    assert read["bind_secret_id"] is True, read
    assert approle.list_roles(mount_point=APPROLE)["data"]["keys"] == [role]

    step("hvac's enable_local_secret_ids (Vault's field is local_secret_ids): Vault's warning")
    resp = approle.create_or_update_approle(
        "hv-local",
        token_policies=[POLICY],
        enable_local_secret_ids=False,
        mount_point=APPROLE,
    )
    assert resp["warnings"] == [
        "Endpoint ignored these unrecognized parameters: [enable_local_secret_ids]"
    ], resp

    step("read_role_id and generate_secret_id (metadata dict, cidr_list)")
    role_id = approle.read_role_id(role, mount_point=APPROLE)["data"]["role_id"]
    assert len(role_id) == 36, "role_id is not a UUID"
    issued = approle.generate_secret_id(
        role, metadata={"team": "hv"}, cidr_list=["127.0.0.1/32"], mount_point=APPROLE
    )["data"]
    secret_id = issued["secret_id"]
    assert issued["secret_id_num_uses"] == 5 and issued["secret_id_ttl"] == 3600, issued
    # hvac sends "metadata": null when there is none.
    bare = approle.generate_secret_id(role, mount_point=APPROLE)["data"]["secret_id"]

    token = check_logins(
        url,
        state,
        "auth.approle.login",
        lambda client, sid: client.auth.approle.login(role_id, sid, mount_point=APPROLE),
        "00000000-0000-4000-8000-000000000000",
        (exceptions.InvalidRequest, "invalid role or secret ID"),
        secret_id,
        {
            "display_name": APPROLE,
            "path": "auth/%s/login" % APPROLE,
            "metadata": {"role_name": role, "team": "hv"},
        },
    )

    step("read_secret_id: the login spent one of its five uses")
    looked = approle.read_secret_id(role, secret_id, mount_point=APPROLE)["data"]
    assert looked["secret_id_num_uses"] == 4, looked["secret_id_num_uses"]
    assert looked["metadata"] == {"team": "hv"}, looked["metadata"]
    # Coffer renders a single-address block as the address (Vault echoes "127.0.0.1/32").
    assert looked["cidr_list"] in (["127.0.0.1"], ["127.0.0.1/32"]), looked["cidr_list"]
    return {
        "approle_token": token,
        "approle_role_id": role_id,
        "approle_secret_id": secret_id,
        "approle_bare_secret_id": bare,
    }


def jwt_phase(url, state):
    root = client_for(url, state["root_token"])
    jwt = state["jwt"]
    role = "hv-jwt-role"

    step("sys.enable_auth_method jwt; auth.jwt.configure with a static public key")
    expect_no_content(root.sys.enable_auth_method("jwt", path=JWT))
    expect_no_content(
        root.auth.jwt.configure(
            jwt_validation_pubkeys=[jwt["public_pem"]], bound_issuer=jwt["issuer"], path=JWT
        )
    )

    step("auth.jwt.create_role (role_type jwt)")
    expect_no_content(
        root.auth.jwt.create_role(
            role,
            user_claim="sub",
            allowed_redirect_uris=[],
            role_type="jwt",
            bound_audiences=[jwt["audience"]],
            token_policies=[POLICY],
            token_ttl="10m",
            path=JWT,
        )
    )

    token = check_logins(
        url,
        state,
        "auth.jwt.jwt_login",
        lambda client, signed: client.auth.jwt.jwt_login(role, signed, path=JWT),
        jwt["wrong_audience"],
        (
            exceptions.Forbidden,
            "error validating token: aud claim does not match any bound audience",
        ),
        jwt["token"],
        {
            "display_name": JWT + "-" + jwt["subject"],
            "path": "auth/%s/login" % JWT,
            "metadata": {"role": role},
        },
    )
    return {"jwt_token": token}


def kubernetes_phase(url, state):
    root = client_for(url, state["root_token"])
    k8s = state["kubernetes"]
    role = "hv-k8s-role"

    step("sys.enable_auth_method kubernetes; auth.kubernetes.configure (TokenReview only)")
    # hvac's create_role has no token_ttl (only Vault's deprecated ttl), so the mount's default
    # TTL gives the tokens their 10 minutes.
    expect_no_content(
        root.sys.enable_auth_method(
            "kubernetes", path=KUBERNETES, config={"default_lease_ttl": "10m"}
        )
    )
    expect_no_content(root.auth.kubernetes.configure(k8s["host"], mount_point=KUBERNETES))

    step("auth.kubernetes.create_role (policies)")
    r = root.auth.kubernetes.create_role(
        role,
        bound_service_account_names=[k8s["account"]],
        bound_service_account_namespaces=[k8s["namespace"]],
        policies=[POLICY],
        mount_point=KUBERNETES,
    )
    # As Vault 1.15+: a role without an audience is stored with a warning (200 and a body,
    # which hvac hands back as a dict).
    assert isinstance(r, dict), "expected the warning body, got %r" % (r,)
    assert any("audience" in w for w in r["warnings"]), r["warnings"]

    token = check_logins(
        url,
        state,
        "auth.kubernetes.login",
        lambda client, sa_jwt: client.auth.kubernetes.login(role, sa_jwt, mount_point=KUBERNETES),
        k8s["unknown_jwt"],
        (exceptions.Forbidden, "lookup failed: service account jwt not valid"),
        k8s["jwt"],
        {
            "display_name": "%s-%s-%s" % (KUBERNETES, k8s["namespace"], k8s["account"]),
            "path": "auth/%s/login" % KUBERNETES,
            "metadata": {
                "role": role,
                "service_account_name": k8s["account"],
                "service_account_namespace": k8s["namespace"],
            },
        },
    )
    return {"kubernetes_token": token}


PHASES = {
    "setup": setup_phase,
    "userpass": userpass_phase,
    "approle": approle_phase,
    "jwt": jwt_phase,
    "kubernetes": kubernetes_phase,
}


def main(argv):
    return run_phases(argv, PHASES, STEP, "hvac_auth_scenario.py")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
