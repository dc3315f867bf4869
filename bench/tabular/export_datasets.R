# Writes each tabular data set of bench/tabular as OUT/<name>.csv (header row, raw columns: factors
# as their level text, class labels as names, missing values as empty fields) and OUT/_r_meta.tsv
# (one line per set: what split_datasets.py needs and checks against).
# Usage: Rscript export_datasets.R OUT
args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1) stop("usage: Rscript export_datasets.R OUT")
out <- args[1]
dir.create(out, showWarnings = FALSE, recursive = TRUE)

# name, Debian package, R package, R object, target column, task
sets <- read.table(header = TRUE, stringsAsFactors = FALSE, text = "
name         deb               rpkg       object               target               task
diamonds     r-cran-ggplot2    ggplot2    diamonds             price                regression
ames         r-cran-modeldata  modeldata  ames                 Sale_Price           regression
concrete     r-cran-modeldata  modeldata  concrete             compressive_strength regression
sacramento   r-cran-modeldata  modeldata  Sacramento           price                regression
credit       r-cran-modeldata  modeldata  credit_data          Status               classification
telco_churn  r-cran-modeldata  modeldata  wa_churn             churn                classification
mlc_churn    r-cran-modeldata  modeldata  mlc_churn            churn                classification
pima         r-cran-mlbench    mlbench    PimaIndiansDiabetes2 diabetes             classification
spam         r-cran-kernlab    kernlab    spam                 type                 classification
letter       r-cran-mlbench    mlbench    LetterRecognition    lettr                classification
satellite    r-cran-mlbench    mlbench    Satellite            classes              classification
shuttle      r-cran-mlbench    mlbench    Shuttle              Class                classification
")

is_cat <- function(col) is.factor(col) || is.character(col) || is.logical(col)
meta <- character(0)
for (i in seq_len(nrow(sets))) {
  s <- sets[i, ]
  env <- new.env()
  data(list = s$object, package = s$rpkg, envir = env)
  d <- get(s$object, envir = env)
  d <- as.data.frame(d, stringsAsFactors = FALSE)  # tibbles (ggplot2, modeldata) to plain frames
  for (j in seq_along(d)) {
    col <- d[[j]]
    if (!(is.numeric(col) || is_cat(col))) stop(s$name, ": column ", names(d)[j], " is ", class(col)[1])
    if (is.factor(col)) d[[j]] <- as.character(col)  # level text, e.g. "Premium", "setosa"
  }
  if (!(s$target %in% names(d))) stop(s$name, ": no target column ", s$target)
  if (anyNA(d[[s$target]])) stop(s$name, ": target ", s$target, " has missing values")
  if ((s$task == "classification") != is_cat(d[[s$target]])) stop(s$name, ": target type vs task")
  cats <- names(d)[sapply(d, is_cat)]
  cats <- setdiff(cats, if (s$task == "classification") s$target else character(0))
  file <- file.path(out, paste0(s$name, ".csv"))
  write.csv(d, file, row.names = FALSE, na = "", fileEncoding = "UTF-8")
  na_cols <- names(d)[colSums(is.na(d)) > 0]
  meta <- c(meta, paste(s$name, s$deb, s$rpkg, s$object, s$target, s$task, nrow(d), ncol(d),
                        sum(is.na(d)), paste(cats, collapse = ";"), paste(na_cols, collapse = ";"),
                        sep = "\t"))
  cat(sprintf("%-12s %6d x %3d  %s::%s\n", s$name, nrow(d), ncol(d), s$rpkg, s$object))
}
writeLines(c(paste("name", "deb", "rpkg", "object", "target", "task", "rows", "columns",
                   "missing_cells", "categorical", "columns_with_missing", sep = "\t"), meta),
           file.path(out, "_r_meta.tsv"))
