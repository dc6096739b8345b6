#!/bin/sh
# Makes the test PKI of store/tests/daemon.rs (run in this directory; the
# files are committed, valid for 100 years): a CA, a server certificate for
# localhost and 127.0.0.1 signed by it, a client certificate signed by it
# (mTLS), and a second CA that signed neither.
set -eu
days=36500
for ca in ca other-ca; do
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $ca.key
  openssl req -x509 -new -key $ca.key -days $days -subj "/CN=tvix test $ca" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -out $ca.pem
done
leaf() {
  name=$1 subject=$2 ext=$3
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $name.key
  openssl req -new -key $name.key -subj "/CN=$subject" -out $name.csr
  printf '%s\n' "$ext" > $name.ext
  openssl x509 -req -in $name.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days $days \
    -extfile $name.ext -out $name.pem
  rm $name.csr $name.ext
}
leaf server localhost "basicConstraints=CA:FALSE
subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth"
leaf client client "basicConstraints=CA:FALSE
extendedKeyUsage=clientAuth"
rm -f ca.key other-ca.key ca.srl
