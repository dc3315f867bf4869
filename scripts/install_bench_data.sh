#!/usr/bin/env bash
# Installs the Debian packages that bench/tabular/export_datasets.sh reads its tabular data sets
# from, if any is missing (idempotent). Recommends are skipped: with them r-cran-ggplot2 and
# r-cran-modeldata pull in ~690 packages, without them ~40.
set -euo pipefail
packages=(r-base-core  # Rscript: the data sets ship as R data files
          r-cran-ggplot2  # diamonds
          r-cran-modeldata  # ames, concrete, Sacramento, credit_data, wa_churn, mlc_churn
          r-cran-mlbench  # LetterRecognition, Shuttle, Satellite, PimaIndiansDiabetes2
          r-cran-kernlab  # spam
          python3 python3-numpy python3-pandas)  # splits, manifest and the load check
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  sudo apt-get update -qq >/dev/null 2>&1 || true
  sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "bench/tabular needs these Debian packages; install them as root:" \
       "apt-get install --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
