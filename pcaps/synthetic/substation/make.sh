#!/usr/bin/env bash
# Makes this directory's captures (deterministic; benches/tests/forged_goose.rs checks the
# committed files are this script's output). Run from the repository root.
set -euo pipefail
dir=pcaps/synthetic/substation
cargo run -q --release -p otsensor-benches --bin gen-forged-goose -- \
    pcaps/iec61850/iti-goose/Sample_File_GOOSE.pcap "$dir/goose-forged.pcap" 10 1000
cargo run -q --release -p otsensor-benches --bin gen-sv -- "$dir/sv-faults.pcap" 2 2 --faults
