# shellcheck shell=bash
# Shared by scripts/build-image and scripts/build-bundle: the development signing keys of RAUC
# bundles, made on demand in .cache/rauc-keys/ (never committed, like a developer's own keys).
# Usage: source scripts/lib/rauc-keys.sh; rauc_dev_keys DIR NAME
#   makes DIR/NAME-ca.cert.pem (the keyring), DIR/NAME.cert.pem and DIR/NAME.key.pem (a signing
#   certificate issued by that CA) unless they exist. NAME "dev" is the image's keyring;
#   the hw-test's "other" is a second CA the image does not trust.
# Production: RAUC_KEYRING=path (build-image) and RAUC_CERT/RAUC_KEY (build-bundle) name the
# real ones; see docs/design/update.md.
rauc_dev_keys() {
  local dir=$1 name=$2
  [ -s "$dir/$name.cert.pem" ] && [ -s "$dir/$name.key.pem" ] && [ -s "$dir/$name-ca.cert.pem" ] &&
    return 0
  mkdir -p "$dir"
  chmod 0700 "$dir"
  local t
  t=$(mktemp -d)
  cat > "$t/ext.cnf" <<'CNF'
[ca]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[signer]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
CNF
  echo "== making development RAUC keys '$name' in $dir" >&2
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -subj "/O=Hotspare development/CN=Hotspare $name update CA" -keyout "$t/ca.key.pem" \
    -out "$t/ca.cert.pem" -extensions ca -config "$t/ext.cnf" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/O=Hotspare development/CN=Hotspare $name bundle signer" -keyout "$t/signer.key.pem" \
    -out "$t/signer.csr" 2>/dev/null
  openssl x509 -req -in "$t/signer.csr" -CA "$t/ca.cert.pem" -CAkey "$t/ca.key.pem" \
    -CAcreateserial -days 3650 -extfile "$t/ext.cnf" -extensions signer \
    -out "$t/signer.cert.pem" 2>/dev/null
  install -m 0600 "$t/ca.key.pem" "$dir/$name-ca.key.pem"
  install -m 0644 "$t/ca.cert.pem" "$dir/$name-ca.cert.pem"
  install -m 0600 "$t/signer.key.pem" "$dir/$name.key.pem"
  install -m 0644 "$t/signer.cert.pem" "$dir/$name.cert.pem"
  rm -rf "$t"
}
