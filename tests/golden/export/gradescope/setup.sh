#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image: NumPy is all
# handgrad's grader needs (the grader itself is in this zip, under handgrad/).
set -euo pipefail
apt-get install -y python3 python3-pip
python3 -m pip install numpy || python3 -m pip install --break-system-packages numpy
