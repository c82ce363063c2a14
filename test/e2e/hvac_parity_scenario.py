# The hvac 0.11.2 (Debian python3-hvac) side of test/e2e/hvac-parity.test.ts: the Vault
# behaviours clients rely on, driven through an unmodified hvac client against a coffer dev
# server, one phase at a time.
#
# Usage: /usr/bin/python3 hvac_parity_scenario.py PHASE URL   (the state as JSON on stdin)
#   The state holds "root_token" and whatever earlier phases returned. Each phase prints one
#   JSON object on stdout: the entries it adds to the state (keys ending in "_token" are
#   tokens the test later looks for in the server log).
# Exits 0 on success; on a failed check prints the step and the reason on stderr, exits 1.
import base64
import sys

import hvac
from hvac import exceptions

from hvac_phase import run_phases

STEP = ["start"]
WRAP_INVALID = ["wrapping token is not valid or does not exist"]
UNKNOWN_WARNING = "Endpoint ignored these unrecognized parameters: [%s]"
BAD_CA = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"


def step(name):
    STEP[0] = name


def expect_raises(exc_type, fn, *args, **kwargs):
    """Calls fn and returns the exception it must raise (an instance of exc_type)."""
    try:
        fn(*args, **kwargs)
    except exc_type as err:
        return err
    raise AssertionError("%s did not raise %s" % (getattr(fn, "__name__", fn), exc_type.__name__))


def client_for(url, token=None):
    return hvac.Client(url=url, token=token, timeout=20)


def leases_phase(url, state):
    root = client_for(url, state["root_token"])
    step("enable userpass and log in twice")
    root.sys.enable_auth_method("userpass", path="up")
    root.write("auth/up/users/lease-user", password="pw-lease", token_policies="default")
    logins = []
    for _ in range(2):
        c = client_for(url)
        c.auth_userpass("lease-user", "pw-lease", mount_point="up")
        assert c.is_authenticated()
        logins.append(c)

    step("revoke_prefix sends prefix in the body too: accepted, the login's token is gone")
    root.sys.revoke_prefix("auth/up/login/lease-user")
    assert logins[0].is_authenticated() is False
    assert logins[1].is_authenticated() is False

    step("revoke_force likewise")
    c = client_for(url)
    c.auth_userpass("lease-user", "pw-lease", mount_point="up")
    root.sys.revoke_force("auth/up/login/")
    assert c.is_authenticated() is False
    return {}


def tune_phase(url, state):
    root = client_for(url, state["root_token"])
    step("tune a secret engine's max_lease_ttl above the system maximum (Vault accepts it)")
    root.sys.enable_secrets_engine("kv", path="tuned", options={"version": "1"})
    root.sys.tune_mount_configuration("tuned", default_lease_ttl="1h", max_lease_ttl="99999h")
    tuned = root.sys.read_mount_configuration("tuned")
    assert tuned["data"]["max_lease_ttl"] == 99999 * 3600, tuned
    assert tuned["data"]["default_lease_ttl"] == 3600, tuned

    step("the same for an auth method")
    root.sys.enable_auth_method("userpass", path="tuned-up")
    root.sys.tune_auth_method("tuned-up", max_lease_ttl="99999h")
    read = root.sys.read_auth_method_tuning("tuned-up")
    assert read["data"]["max_lease_ttl"] == 99999 * 3600, read

    step("a login there still gets at most the system maximum")
    root.write("auth/tuned-up/users/t", password="pw-t", token_ttl="99990h")
    c = client_for(url)
    login = c.auth_userpass("t", "pw-t", mount_point="tuned-up")
    assert login["auth"]["lease_duration"] <= state["system_max_ttl"], login["auth"]

    step("default above max is still refused")
    expect_raises(
        exceptions.InvalidRequest,
        root.sys.tune_mount_configuration,
        "tuned",
        default_lease_ttl="99999h",
        max_lease_ttl="1h",
    )
    return {}


def wrapping_phase(url, state):
    root = client_for(url, state["root_token"])
    root.sys.enable_secrets_engine("kv", path="wrapkv", options={"version": "1"})
    root.write("wrapkv/one", value="wrapped-value")

    step("wrap a read, unwrap it once with the wrapping token in X-Vault-Token")
    wrapped = root.adapter.get("/v1/wrapkv/one", wrap_ttl="60s")
    wrapping_token = wrapped["wrap_info"]["token"]
    holder = client_for(url, wrapping_token)
    assert holder.sys.unwrap()["data"]["value"] == "wrapped-value"

    step("the used token in the header: 400 with the body form's message, on each path")
    err = expect_raises(exceptions.InvalidRequest, holder.sys.unwrap)
    assert err.errors == WRAP_INVALID, err.errors
    for path in ("/v1/sys/wrapping/rewrap", "/v1/sys/wrapping/lookup"):
        err = expect_raises(exceptions.InvalidRequest, holder.adapter.post, path)
        assert err.errors == WRAP_INVALID, (path, err.errors)

    step("an unknown token in the header: the same")
    stranger = client_for(url, "s.not-a-wrapping-token")
    err = expect_raises(exceptions.InvalidRequest, stranger.sys.unwrap)
    assert err.errors == WRAP_INVALID, err.errors
    return {"wrapping_token": wrapping_token}


def approle_phase(url, state):
    root = client_for(url, state["root_token"])
    root.sys.enable_auth_method("approle", path="ar")
    approle = root.auth.approle
    written = ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]

    step("token_bound_cidrs and secret_id_bound_cidrs read back as written")
    approle.create_or_update_approle(
        "cidr-role",
        token_policies=["default"],
        token_bound_cidrs=written,
        secret_id_bound_cidrs=written,
        mount_point="ar",
    )
    role = approle.read_role("cidr-role", mount_point="ar")["data"]
    assert role["token_bound_cidrs"] == written, role
    assert role["secret_id_bound_cidrs"] == written, role

    step("a secret ID's cidr_list and token_bound_cidrs read back as written")
    secret = approle.generate_secret_id(
        "cidr-role",
        cidr_list=["127.0.0.1/32"],
        token_bound_cidrs=["127.0.0.1/32"],
        mount_point="ar",
    )["data"]
    read = approle.read_secret_id("cidr-role", secret["secret_id"], mount_point="ar")["data"]
    assert read["cidr_list"] == ["127.0.0.1/32"], read
    assert read["token_bound_cidrs"] == ["127.0.0.1/32"], read

    step("and the login from 127.0.0.1 still works")
    role_id = approle.read_role_id("cidr-role", mount_point="ar")["data"]["role_id"]
    c = client_for(url)
    login = c.auth.approle.login(role_id, secret["secret_id"], mount_point="ar")
    assert c.is_authenticated(), login
    return {"approle_token": login["auth"]["client_token"]}


def kubernetes_phase(url, state):
    root = client_for(url, state["root_token"])
    root.sys.enable_auth_method("kubernetes", path="k8s")
    step("a kubernetes_ca_cert that does not parse is stored, with a warning")
    resp = root.auth.kubernetes.configure(
        "https://127.0.0.1:1", kubernetes_ca_cert=BAD_CA, mount_point="k8s"
    )
    assert isinstance(resp, dict), resp
    assert len(resp["warnings"]) == 1, resp
    assert resp["warnings"][0].startswith("kubernetes_ca_cert could not be parsed"), resp
    read = root.auth.kubernetes.read_config(mount_point="k8s")
    assert read["kubernetes_ca_cert"] == BAD_CA, read

    step("token_reviewer_jwt must be a compact JWS")
    err = expect_raises(
        exceptions.InvalidRequest,
        root.auth.kubernetes.configure,
        "https://127.0.0.1:1",
        token_reviewer_jwt="not-a-jwt",
        mount_point="k8s",
    )
    assert err.errors == ["token_reviewer_jwt: must be a JWT in compact JWS form"], err.errors
    return {}


def fields_phase(url, state):
    root = client_for(url, state["root_token"])
    root.sys.enable_auth_method("userpass", path="fields-up")
    step("an unknown field: ignored with Vault's warning")
    resp = root.write(
        "auth/fields-up/users/f", password="pw-f", token_policies="default", retired_option="1"
    )
    assert resp["warnings"] == [UNKNOWN_WARNING % "retired_option"], resp

    step("a likely typo (two edits or fewer from a known field): 400 naming the field meant")
    err = expect_raises(
        exceptions.InvalidRequest,
        root.write,
        "auth/fields-up/users/f",
        password="pw-f",
        token_polices="admin",
    )
    assert err.errors == ['token_polices: unknown field; did you mean "token_policies"?'], err.errors
    user = root.read("auth/fields-up/users/f")["data"]
    assert user["token_policies"] == ["default"], user
    return {}


def b64(text):
    return base64.b64encode(text.encode()).decode()


def transit_phase(url, state):
    root = client_for(url, state["root_token"])
    transit = root.secrets.transit
    canary = state["canaries"]["transit_plaintext"]
    step("enable a file audit device and the transit engine")
    root.sys.enable_audit_device("file", options={"file_path": state["audit_file"]})
    root.sys.enable_secrets_engine("transit")

    step("create_key, encrypt_data, decrypt_data")
    transit.create_key("orders", exportable=True)
    enc = transit.encrypt_data("orders", b64(canary))["data"]
    v1 = enc["ciphertext"]
    assert v1.startswith("vault:v1:"), enc
    assert transit.decrypt_data("orders", v1)["data"]["plaintext"] == b64(canary)

    step("rotate_key: v1 ciphertexts still decrypt, new ones are v2")
    transit.rotate_key("orders")
    v2 = transit.encrypt_data("orders", b64("second"))["data"]["ciphertext"]
    assert v2.startswith("vault:v2:"), v2
    assert transit.decrypt_data("orders", v1)["data"]["plaintext"] == b64(canary)
    assert transit.read_key("orders")["data"]["latest_version"] == 2

    step("rewrap_data moves a v1 ciphertext to v2")
    rewrapped = transit.rewrap_data("orders", v1)["data"]["ciphertext"]
    assert rewrapped.startswith("vault:v2:"), rewrapped

    step("below min_decryption_version: refused")
    transit.update_key_configuration("orders", min_decryption_version=2)
    err = expect_raises(exceptions.InvalidRequest, transit.decrypt_data, "orders", v1)
    assert err.errors == [
        "ciphertext or signature version is disallowed by policy (too old)"
    ], err.errors
    assert transit.decrypt_data("orders", rewrapped)["data"]["plaintext"] == b64(canary)

    step("batch encrypt and decrypt")
    batch = transit.encrypt_data(
        "orders", plaintext=None, batch_input=[{"plaintext": b64("a")}, {"plaintext": b64("b")}]
    )["data"]["batch_results"]
    dec = transit.decrypt_data("orders", ciphertext=None, batch_input=batch)["data"]
    assert [r["plaintext"] for r in dec["batch_results"]] == [b64("a"), b64("b")], dec

    step("generate_data_key: plaintext and wrapped")
    dk = transit.generate_data_key("orders", key_type="plaintext", bits=256)["data"]
    assert transit.decrypt_data("orders", dk["ciphertext"])["data"]["plaintext"] == dk["plaintext"]
    wrapped = transit.generate_data_key("orders", key_type="wrapped")["data"]
    assert "plaintext" not in wrapped and wrapped["ciphertext"].startswith("vault:v2:"), wrapped

    step("sign_data / verify_signed_data: ed25519, ecdsa, rsa pss and pkcs1v15")
    for name, key_type, extra in (
        ("sig-ed", "ed25519", {}),
        ("sig-ec", "ecdsa-p256", {"hash_algorithm": "sha2-256"}),
        ("sig-rsa", "rsa-2048", {"signature_algorithm": "pss"}),
        ("sig-rsa1", "rsa-2048", {"signature_algorithm": "pkcs1v15", "hash_algorithm": "sha2-512"}),
    ):
        transit.create_key(name, key_type=key_type)
        sig = transit.sign_data(name, hash_input=b64("to sign"), **extra)["data"]["signature"]
        assert sig.startswith("vault:v1:"), sig
        ok = transit.verify_signed_data(name, hash_input=b64("to sign"), signature=sig, **extra)
        assert ok["data"]["valid"] is True, (name, ok)
        bad = transit.verify_signed_data(name, hash_input=b64("other"), signature=sig, **extra)
        assert bad["data"]["valid"] is False, (name, bad)

    step("generate_hmac and verify it")
    mac = transit.generate_hmac("orders", hash_input=b64("mac me"))["data"]["hmac"]
    ok = transit.verify_signed_data("orders", hash_input=b64("mac me"), hmac=mac)
    assert ok["data"]["valid"] is True, ok

    step("hash_data and generate_random_bytes")
    digest = transit.hash_data(b64("abc"), algorithm="sha2-256")["data"]["sum"]
    assert digest == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", digest
    rnd = transit.generate_random_bytes(n_bytes=16, output_format="hex")["data"]["random_bytes"]
    assert len(rnd) == 32, rnd

    step("export_key of the exportable key (its material is the canary for the audit scan)")
    exported = transit.export_key("orders", key_type="encryption-key")["data"]["keys"]
    assert sorted(exported) == ["1", "2"], exported

    step("a non-exportable key cannot be exported; deletion needs deletion_allowed")
    expect_raises(exceptions.InvalidRequest, transit.export_key, "sig-ed", key_type="signing-key")
    expect_raises(exceptions.InvalidRequest, transit.delete_key, "sig-ed")
    transit.update_key_configuration("sig-ed", deletion_allowed=True)
    transit.delete_key("sig-ed")
    expect_raises(exceptions.InvalidRequest, transit.sign_data, "sig-ed", hash_input=b64("x"))
    return {"transit_key_v1": exported["1"], "transit_key_v2": exported["2"]}


def decode_root_token(encoded, otp):
    """Vault >= 1.10's decoding (sdk/helper/roottoken DecodeToken): RawStd base64, then XOR."""
    raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4))
    assert len(raw) == len(otp), (len(raw), len(otp))
    return bytes(a ^ b for a, b in zip(raw, otp.encode())).decode()


def unseal_with(client, keys):
    status = None
    for key in keys:
        status = client.sys.submit_unseal_key(key)
    return status


def ceremonies_phase(url, state):
    anon = client_for(url)
    step("initialize with 3 shares, threshold 2, and unseal")
    init = anon.sys.initialize(secret_shares=3, secret_threshold=2)
    keys = init["keys"]
    assert unseal_with(anon, keys[:2])["sealed"] is False

    step("generate-root: start (server OTP), feed two shares with the nonce")
    started = anon.sys.start_root_token_generation()
    otp = started["otp"]
    assert len(otp) == started["otp_length"], started
    nonce = started["nonce"]
    progress = anon.sys.generate_root(keys[0], nonce)
    assert progress["complete"] is False and progress["progress"] == 1, progress
    err = expect_raises(exceptions.InvalidRequest, anon.sys.generate_root, keys[0], nonce)
    assert "already been provided" in str(err), err
    done = anon.sys.generate_root(keys[1], nonce)
    assert done["complete"] is True, done
    new_root = decode_root_token(done["encoded_root_token"], otp)
    assert done["encoded_token"] == done["encoded_root_token"], done

    step("the decoded token is a root token")
    rooted = client_for(url, new_root)
    assert rooted.is_authenticated()
    assert "root" in rooted.auth.token.lookup_self()["data"]["policies"]
    assert anon.sys.read_root_generation_progress()["started"] is False

    step("generate-root with a client OTP of the wrong length is refused")
    expect_raises(exceptions.InvalidRequest, anon.sys.start_root_token_generation, otp="short")

    step("rekey to 4 shares, threshold 3 (no verification)")
    rk = anon.sys.start_rekey(secret_shares=4, secret_threshold=3)
    assert rk["started"] is True and rk["n"] == 4 and rk["t"] == 3, rk
    anon.sys.rekey(keys[0], nonce=rk["nonce"])
    done = anon.sys.rekey(keys[2], nonce=rk["nonce"])
    assert done["complete"] is True and len(done["keys"]) == 4, done
    new_keys = done["keys"]

    step("seal; the old shares no longer unseal; three new ones do")
    rooted.sys.seal()
    expect_raises(exceptions.InvalidRequest, unseal_with, anon, keys[:3])
    assert anon.sys.read_seal_status()["sealed"] is True
    status = unseal_with(anon, new_keys[1:4])
    assert status["sealed"] is False and status["t"] == 3 and status["n"] == 4, status

    step("rekey with verification to 2 shares, threshold 2")
    rk = anon.sys.start_rekey(secret_shares=2, secret_threshold=2, require_verification=True)
    for key in new_keys[:3]:
        done = anon.sys.rekey(key, nonce=rk["nonce"])
    assert done["complete"] is True and done["verification_required"] is True, done
    pending = done["keys"]
    verify_nonce = done["verification_nonce"]
    step("until verified, the 4-share keys still unseal")
    assert anon.sys.read_seal_status()["n"] == 4
    first = anon.sys.rekey_verify(pending[0], verify_nonce)
    assert first["progress"] == 1, first
    finished = anon.sys.rekey_verify(pending[1], verify_nonce)
    assert finished["complete"] is True, finished
    rooted.sys.seal()
    status = unseal_with(anon, pending)
    assert status["sealed"] is False and status["n"] == 2, status
    return {"generated_root_token": new_root}


def remount_phase(url, state):
    root = client_for(url, state["root_token"])
    step("move_backend moves a KV mount: the data comes along, the old path is gone")
    root.sys.enable_secrets_engine("kv", path="old-kv", options={"version": "2"})
    root.secrets.kv.v2.create_or_update_secret("app", {"pw": "moved"}, mount_point="old-kv")
    root.sys.move_backend("old-kv", "new-kv")
    read = root.secrets.kv.v2.read_secret_version("app", mount_point="new-kv")
    assert read["data"]["data"] == {"pw": "moved"}, read
    assert "old-kv/" not in root.sys.list_mounted_secrets_engines()["data"], "old path kept"
    expect_raises(exceptions.InvalidPath, root.secrets.kv.v2.read_secret_version, "app", mount_point="old-kv")

    step("an auth method moves too; its users come along")
    root.sys.enable_auth_method("userpass", path="up-old")
    root.write("auth/up-old/users/m", password="pw-m", token_policies="default")
    root.sys.move_backend("auth/up-old", "auth/up-new")
    c = client_for(url)
    c.auth_userpass("m", "pw-m", mount_point="up-new")
    assert c.is_authenticated()

    step("refused: auth to non-auth, a reserved destination, a missing source")
    expect_raises(exceptions.InvalidRequest, root.sys.move_backend, "auth/up-new", "kv-x")
    expect_raises(exceptions.InvalidRequest, root.sys.move_backend, "new-kv", "sys/x")
    expect_raises(exceptions.InvalidRequest, root.sys.move_backend, "no-such", "other")
    return {}


PHASES = {
    "leases": leases_phase,
    "tune": tune_phase,
    "wrapping": wrapping_phase,
    "approle": approle_phase,
    "kubernetes": kubernetes_phase,
    "fields": fields_phase,
    "transit": transit_phase,
    "remount": remount_phase,
    "ceremonies": ceremonies_phase,
}


def main(argv):
    return run_phases(argv, PHASES, STEP, "hvac_parity_scenario.py")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
