"""The archive as the tests use it: boto3 ListBuckets with the admin keys (part of `testbed.sh verify`).

Takes S3_ENDPOINT, S3_ACCESS_KEY and S3_SECRET_KEY from the environment, so the keys
never appear on a command line.
"""

import os

import boto3


def main() -> None:
    s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"],
                      aws_access_key_id=os.environ["S3_ACCESS_KEY"],
                      aws_secret_access_key=os.environ["S3_SECRET_KEY"], region_name="us-east-1")
    s3.list_buckets()


if __name__ == "__main__":
    main()
