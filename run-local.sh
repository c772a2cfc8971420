#!/usr/bin/env bash
# Kept from the seed: an alias of `make run`.
exec make -C "$(dirname "$0")" run "$@"
