# The hvac 0.11.2 (Debian python3-hvac) side of test/e2e/hvac-identity.test.ts: the identity
# store driven through hvac's client.secrets.identity API, with logins through userpass and JWT.
#
# Usage: /usr/bin/python3 hvac_identity_scenario.py PHASE URL   (the state as JSON on stdin)
#   "internal": entities, entity aliases, an internal group; a userpass login acts for the
#     entity (lookup_self shows entity_id and identity_policies); the token loses the group's
#     policy on its next request once the entity is taken out of the group; a templated policy
#     path; lookup_entity by name and by alias; merge_entities.
#   "external": a JWT role with groups_claim; an external group with a group alias on the JWT
#     mount; a login whose "groups" claim names the alias lands in the group's policy, a login
#     without it takes the entity out again.
# Each phase prints one JSON object (the state it adds). Exits 1 naming the failed step.
import sys

import hvac
from hvac import exceptions

from hvac_phase import run_phases

STEP = ["start"]
USERPASS = "hv-id-up"
JWT = "hv-id-jwt"


def step(name):
    STEP[0] = name


def expect_forbidden(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exceptions.Forbidden as err:
        assert err.errors == ["permission denied"], err.errors
        return
    raise AssertionError("expected Forbidden")


def read_policy(name, path):
    return 'path "secret/data/%s" {\n  capabilities = ["read"]\n}\n' % path


def read(client, path):
    return client.secrets.kv.v2.read_secret_version(path, mount_point="secret")["data"]["data"]


def internal_phase(url, state):
    root = hvac.Client(url=url, token=state["root_token"])
    identity = root.secrets.identity

    step("secrets and policies (one templated on the entity name)")
    for name in ("a", "b", "tmpl/hv-alice", "tmpl/someone-else"):
        root.secrets.kv.v2.create_or_update_secret(
            "hv-id/" + name, {"v": name}, mount_point="secret"
        )
    root.sys.create_or_update_policy("hv-id-a", read_policy("hv-id-a", "hv-id/a"))
    root.sys.create_or_update_policy("hv-id-b", read_policy("hv-id-b", "hv-id/b"))
    root.sys.create_or_update_policy(
        "hv-id-tmpl", read_policy("hv-id-tmpl", "hv-id/tmpl/{{identity.entity.name}}")
    )

    step("userpass mount and user")
    root.sys.enable_auth_method("userpass", path=USERPASS)
    accessor = root.sys.list_auth_methods()["data"][USERPASS + "/"]["accessor"]
    root.auth.userpass.create_or_update_user(
        "alice", password=state["password"], policies=["hv-id-tmpl"], mount_point=USERPASS
    )

    step("identity.create_or_update_entity")
    created = identity.create_or_update_entity(
        name="hv-alice", metadata={"team": "red"}, policies=["hv-id-a"]
    )
    entity_id = created["data"]["id"]
    assert created["data"]["name"] == "hv-alice", created
    step("identity.create_or_update_entity_alias")
    alias = identity.create_or_update_entity_alias(
        name="alice", canonical_id=entity_id, mount_accessor=accessor
    )
    assert alias["data"]["canonical_id"] == entity_id, alias
    step("identity.create_or_update_group (internal, member_entity_ids)")
    group = identity.create_or_update_group(
        name="hv-readers-b", policies=["hv-id-b"], member_entity_ids=[entity_id]
    )
    group_id = group["data"]["id"]

    step("identity.read_entity shows the alias, the group and the metadata")
    entity = identity.read_entity(entity_id)["data"]
    assert entity["metadata"] == {"team": "red"}, entity
    assert entity["group_ids"] == [group_id], entity
    assert [a["name"] for a in entity["aliases"]] == ["alice"], entity["aliases"]
    assert entity["aliases"][0]["mount_type"] == "userpass", entity["aliases"][0]

    step("userpass login acts for the entity")
    client = hvac.Client(url=url)
    login = client.auth.userpass.login("alice", state["password"], mount_point=USERPASS)
    assert login["auth"]["entity_id"] == entity_id, login["auth"]
    looked = client.auth.token.lookup_self()["data"]
    assert looked["entity_id"] == entity_id, looked
    assert looked["policies"] == ["default", "hv-id-tmpl"], looked["policies"]
    assert looked["identity_policies"] == ["hv-id-a", "hv-id-b"], looked

    step("the entity's, the group's and the templated policy apply")
    assert read(client, "hv-id/a") == {"v": "a"}
    assert read(client, "hv-id/b") == {"v": "b"}
    assert read(client, "hv-id/tmpl/hv-alice") == {"v": "tmpl/hv-alice"}
    expect_forbidden(read, client, "hv-id/tmpl/someone-else")

    step("taken out of the group, the same token loses the group's policy at once")
    identity.create_or_update_group(
        name="hv-readers-b", group_id=group_id, policies=["hv-id-b"], member_entity_ids=[]
    )
    expect_forbidden(read, client, "hv-id/b")
    assert read(client, "hv-id/a") == {"v": "a"}

    step("identity.lookup_entity by name and by alias")
    by_name = identity.lookup_entity(name="hv-alice")
    assert by_name["data"]["id"] == entity_id, by_name
    by_alias = identity.lookup_entity(alias_name="alice", alias_mount_accessor=accessor)
    assert by_alias["data"]["id"] == entity_id, by_alias

    step("identity.merge_entities")
    other = identity.create_or_update_entity(name="hv-alice-old", policies=["hv-id-b"])
    other_id = other["data"]["id"]
    merged = identity.merge_entities(from_entity_ids=[other_id], to_entity_id=entity_id)
    assert merged.status_code == 204, merged.status_code
    after = identity.read_entity(entity_id)["data"]
    assert after["merged_entity_ids"] == [other_id], after
    return {"entity_id": entity_id, "user_token": login["auth"]["client_token"]}


def external_phase(url, state):
    root = hvac.Client(url=url, token=state["root_token"])
    identity = root.secrets.identity
    jwt = state["jwt"]

    step("jwt mount and a role with groups_claim")
    root.sys.enable_auth_method("jwt", path=JWT)
    accessor = root.sys.list_auth_methods()["data"][JWT + "/"]["accessor"]
    root.auth.jwt.configure(
        jwt_validation_pubkeys=[jwt["public_pem"]], bound_issuer=jwt["issuer"], path=JWT
    )
    root.auth.jwt.create_role(
        "hv-id-role",
        user_claim="sub",
        groups_claim="groups",
        allowed_redirect_uris=[],
        role_type="jwt",
        bound_audiences=[jwt["audience"]],
        token_policies=[],
        path=JWT,
    )
    root.secrets.kv.v2.create_or_update_secret("hv-id/ext", {"v": "ext"}, mount_point="secret")
    root.sys.create_or_update_policy("hv-id-ext", read_policy("hv-id-ext", "hv-id/ext"))

    step("identity.create_or_update_group (external) and create_or_update_group_alias")
    group = identity.create_or_update_group(
        name="hv-engineers", group_type="external", policies=["hv-id-ext"]
    )
    group_id = group["data"]["id"]
    alias = identity.create_or_update_group_alias(
        name="engineering", mount_accessor=accessor, canonical_id=group_id
    )
    assert alias["data"]["canonical_id"] == group_id, alias

    step("a login whose groups claim names the alias lands in the group's policies")
    client = hvac.Client(url=url)
    login = client.auth.jwt.jwt_login("hv-id-role", jwt["with_group"], path=JWT)
    assert login["auth"]["identity_policies"] == ["hv-id-ext"], login["auth"]
    assert "hv-id-ext" in login["auth"]["policies"], login["auth"]
    assert read(client, "hv-id/ext") == {"v": "ext"}
    read_group = identity.read_group(group_id)["data"]
    assert read_group["member_entity_ids"] == [login["auth"]["entity_id"]], read_group
    assert read_group["alias"]["name"] == "engineering", read_group["alias"]
    looked = identity.lookup_group(alias_name="engineering", alias_mount_accessor=accessor)
    assert looked["data"]["id"] == group_id, looked

    step("a login without the group takes the entity out (its earlier token too)")
    again = hvac.Client(url=url)
    second = again.auth.jwt.jwt_login("hv-id-role", jwt["without_group"], path=JWT)
    assert second["auth"]["entity_id"] == login["auth"]["entity_id"], second["auth"]
    assert "identity_policies" not in second["auth"], second["auth"]
    expect_forbidden(read, again, "hv-id/ext")
    expect_forbidden(read, client, "hv-id/ext")
    return {"jwt_user_token": login["auth"]["client_token"]}


PHASES = {"internal": internal_phase, "external": external_phase}


def main(argv):
    return run_phases(argv, PHASES, STEP, "hvac_identity_scenario.py")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
