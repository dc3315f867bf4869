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
exec bash "$(dirname "$0")/install_deps.sh" --no-recommends "${packages[@]}"
