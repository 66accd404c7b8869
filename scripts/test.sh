#!/usr/bin/env bash
# The test command: installs what the tests need, then runs every test
# (units, integration tests, doc tests, and each bench once as a smoke run).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
# The model tests load ONNX Runtime from the PyPI wheel, like the detector does.
FD_ONNXRUNTIME="$PWD/$(scripts/install-onnxruntime.sh)"
export FD_ONNXRUNTIME
# Local AWS services (S3, DynamoDB, SES) for the integration tests.
FD_MOTO_SERVER="$(scripts/install-moto.sh)"
export FD_MOTO_SERVER
# tansu, the Kafka-compatible broker the Kafka tests start on a free port.
FD_TANSU="$(scripts/install-tansu.sh)"
export FD_TANSU
# A local Kinesis server (kinesis-mock on Node) for the Kinesis tests.
FD_KINESIS_LOCAL="$(scripts/install-kinesis-local.sh)"
export FD_KINESIS_LOCAL
# aiosmtpd, a real SMTP server for the e-mail alert over SMTP.
FD_AIOSMTPD="$(scripts/install-smtp.sh)"
export FD_AIOSMTPD
# Headless chromium and its WebDriver for the analyst console's browser tests.
FD_CHROMEDRIVER="$(scripts/install-chromium.sh)"
export FD_CHROMEDRIVER
cargo test --locked --all-targets "$@"
cargo test --locked --doc
