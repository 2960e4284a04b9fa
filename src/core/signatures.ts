// Detached signatures beside distributions.

/** Suffix of signature files: twine sends `<file>.asc` as gpg_signature; PEP 503 serves it at the file's URL plus `.asc`. */
export const SIGNATURE_SUFFIX = '.asc'
