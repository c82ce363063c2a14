"""Debian's python3-boto3, unmodified, against Coffer's AWS door: every action boto3 1.26 has
(22; BatchGetSecretValue came later), plus AWS's error codes. Prints one JSON line with the
actions driven; exits non-zero on the first surprise. Usage: scenario.py URL KEY_ID SECRET"""
import json
import sys

import boto3
from botocore.exceptions import ClientError

url, key_id, secret = sys.argv[1:4]
session = boto3.session.Session(aws_access_key_id=key_id, aws_secret_access_key=secret,
                                region_name="us-east-1")
sm = session.client("secretsmanager", endpoint_url=url)
eu = session.client("secretsmanager", endpoint_url=url, region_name="eu-west-1")
used = set()


def call(client, action, **kwargs):
    used.add(action)
    method = "".join("_" + c.lower() if c.isupper() else c for c in action).lstrip("_")
    return getattr(client, method)(**kwargs)


def expect_error(code, client, action, **kwargs):
    try:
        call(client, action, **kwargs)
    except ClientError as err:
        got = err.response["Error"]["Code"]
        assert got == code, f"{action}: expected {code}, got {got}"
        return
    raise AssertionError(f"{action}: expected {code}, got success")


created = call(sm, "CreateSecret", Name="py/app", SecretString='{"k":"v"}',
               Tags=[{"Key": "team", "Value": "py"}])
assert created["ARN"].startswith("arn:aws:secretsmanager:us-east-1:000000000000:secret:py/app-")
assert call(sm, "GetSecretValue", SecretId="py/app")["SecretString"] == '{"k":"v"}'
put = call(sm, "PutSecretValue", SecretId="py/app", SecretBinary=b"\x00\x01")
assert call(sm, "GetSecretValue", SecretId="py/app")["SecretBinary"] == b"\x00\x01"
upd = call(sm, "UpdateSecret", SecretId="py/app", Description="d", SecretString="s3")
desc = call(sm, "DescribeSecret", SecretId="py/app")
assert desc["Description"] == "d" and "LastChangedDate" in desc
call(sm, "UpdateSecretVersionStage", SecretId="py/app", VersionStage="AWSCURRENT",
     MoveToVersionId=put["VersionId"], RemoveFromVersionId=upd["VersionId"])
assert call(sm, "GetSecretValue", SecretId="py/app")["VersionId"] == put["VersionId"]
assert len(call(sm, "ListSecretVersionIds", SecretId="py/app")["Versions"]) == 2
call(sm, "TagResource", SecretId="py/app", Tags=[{"Key": "env", "Value": "dev"}])
call(sm, "UntagResource", SecretId="py/app", TagKeys=["team"])
names = [s["Name"] for s in call(sm, "ListSecrets", Filters=[{"Key": "tag-key", "Values": ["env"]}])["SecretList"]]
assert names == ["py/app"], names
assert len(call(sm, "GetRandomPassword", PasswordLength=20)["RandomPassword"]) == 20
policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
                                                             "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]})
assert call(sm, "ValidateResourcePolicy", ResourcePolicy=policy)["PolicyValidationPassed"]
expect_error("PublicPolicyException", sm, "PutResourcePolicy", SecretId="py/app", ResourcePolicy=policy,
             BlockPublicPolicy=True)
call(sm, "PutResourcePolicy", SecretId="py/app", ResourcePolicy=policy)
assert call(sm, "GetResourcePolicy", SecretId="py/app")["ResourcePolicy"] == policy
call(sm, "DeleteResourcePolicy", SecretId="py/app")
call(sm, "ReplicateSecretToRegions", SecretId="py/app", AddReplicaRegions=[{"Region": "eu-west-1"}])
assert call(eu, "GetSecretValue", SecretId="py/app")["SecretBinary"] == b"\x00\x01"
call(sm, "ReplicateSecretToRegions", SecretId="py/app", AddReplicaRegions=[{"Region": "ap-south-1"}])
call(sm, "RemoveRegionsFromReplication", SecretId="py/app", RemoveReplicaRegions=["ap-south-1"])
call(eu, "StopReplicationToReplica", SecretId="py/app")
rot = call(sm, "RotateSecret", SecretId="py/app", RotationLambdaARN="noop",
           RotationRules={"ScheduleExpression": "rate(10 days)"}, RotateImmediately=False)
assert rot["VersionId"]
call(sm, "CancelRotateSecret", SecretId="py/app")
expect_error("ResourceNotFoundException", sm, "GetSecretValue", SecretId="py/none")
expect_error("ResourceExistsException", sm, "CreateSecret", Name="py/app", SecretString="x")
expect_error("InvalidParameterException", sm, "DeleteSecret", SecretId="py/app", RecoveryWindowInDays=40)
call(sm, "DeleteSecret", SecretId="py/app", RecoveryWindowInDays=7)
expect_error("InvalidRequestException", sm, "GetSecretValue", SecretId="py/app")
call(sm, "RestoreSecret", SecretId="py/app")
call(sm, "DeleteSecret", SecretId="py/app", ForceDeleteWithoutRecovery=True)
bad = boto3.session.Session(aws_access_key_id=key_id, aws_secret_access_key="wrong",
                            region_name="us-east-1").client("secretsmanager", endpoint_url=url)
expect_error("InvalidSignatureException", bad, "ListSecrets")
print(json.dumps({"actions": sorted(used), "boto3": boto3.__version__}))
