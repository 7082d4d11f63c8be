#!/usr/bin/env bash
# make-test-ca.sh makes a private CA and the certificates a first acd install needs, with the
# openssl CLI: one server certificate for acdd (gRPC and HTTPS) and one client certificate for
# mutual TLS (acdctl, a switch, Prometheus). For a first install, a lab or the tests; in production
# use your organisation's CA. Files already there are kept, so running it again changes nothing.
#
#   deploy/tls/make-test-ca.sh [--force] [--days N] DIR [SAN...]
#
#   DIR     made if missing; receives ca.pem ca.key server.pem server.key client.pem client.key
#           (keys 0600, certificates 0644)
#   SAN     more names the server certificate is valid for, besides localhost, 127.0.0.1 and ::1:
#           DNS:acd.example.com or IP:10.0.0.5 (a bare name or address is taken as DNS: or IP:)
#   --force make everything anew, the CA too (every certificate it signed stops being trusted
#           by clients that get the new ca.pem)
#   --days  validity of the server and client certificates (default 365; the CA: 3650)
#
# To issue a new server certificate (another SAN) from the same CA: remove server.pem and
# server.key and run the script again with the SANs.
set -euo pipefail

usage() {
  sed -n '7,18p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

force=0
days=365
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --force) force=1 ;;
    --days) [ $# -ge 2 ] || usage; days=$2; shift ;;
    --days=*) days=${1#--days=} ;;
    -h|--help) usage ;;
    -*) echo "make-test-ca.sh: unknown option $1" >&2; usage ;;
    *) args+=("$1") ;;
  esac
  shift
done
[ ${#args[@]} -ge 1 ] || usage
[[ "$days" =~ ^[1-9][0-9]*$ ]] || { echo "make-test-ca.sh: --days must be a positive number, not '$days'" >&2; exit 2; }
command -v openssl >/dev/null || { echo "make-test-ca.sh: openssl not found (Debian package openssl)" >&2; exit 1; }

dir=${args[0]}
sans="DNS:localhost,IP:127.0.0.1,IP:::1"
for san in "${args[@]:1}"; do
  if [[ "$san" =~ ^(DNS|IP):. ]]; then :
  elif [[ "$san" =~ ^[0-9]+(\.[0-9]+){3}$ || "$san" =~ ^[0-9a-fA-F:]*:[0-9a-fA-F:.]*$ ]]; then san="IP:$san"
  elif [[ "$san" =~ ^[A-Za-z0-9*][A-Za-z0-9.-]*$ ]]; then san="DNS:$san"
  else echo "make-test-ca.sh: '$san' is not DNS:name, IP:address, a host name or an address" >&2; exit 2
  fi
  sans="$sans,$san"
done

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

made=()
kept=()

# key FILE: a new P-256 key (small and fast; every gRPC and Prometheus TLS stack accepts it).
key() {
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
  chmod 0600 "$1"
}

# leaf NAME CN EXTENSIONS: NAME.key and NAME.pem signed by the CA.
leaf() {
  local name=$1 cn=$2 ext=$3
  key "$work/$name.key"
  openssl req -new -key "$work/$name.key" -subj "/O=acd test CA/CN=$cn" -out "$work/$name.csr"
  printf '%s\n' "$ext" >"$work/$name.ext"
  openssl x509 -req -in "$work/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days "$days" -sha256 \
    -extfile "$work/$name.ext" -out "$work/$name.pem" 2>/dev/null
  chmod 0644 "$work/$name.pem"
  mv "$work/$name.key" "$dir/$name.key"
  mv "$work/$name.pem" "$dir/$name.pem"
  made+=("$name.pem" "$name.key")
}

wanted() {  # wanted NAME: true when NAME.pem must be made
  if [ "$force" = 1 ] || [ ! -e "$dir/$1.pem" ] || [ ! -e "$dir/$1.key" ]; then return 0; fi
  kept+=("$1.pem" "$1.key")
  return 1
}

new_ca=0
if wanted ca; then
  key "$work/ca.key"
  openssl req -x509 -new -key "$work/ca.key" -subj "/O=acd test CA/CN=acd test CA" \
    -days 3650 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -out "$work/ca.pem"
  chmod 0644 "$work/ca.pem"
  mv "$work/ca.key" "$dir/ca.key"
  mv "$work/ca.pem" "$dir/ca.pem"
  made+=(ca.pem ca.key)
  new_ca=1
fi

# Certificates of an older CA would no longer verify: a new CA reissues both.
if [ "$new_ca" = 1 ] || wanted server; then
  # clientAuth too: the standby of an HA pair presents its replica's certificate to the leader.
  leaf server acdd "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
authorityKeyIdentifier=keyid
subjectAltName=$sans"
fi
if [ "$new_ca" = 1 ] || wanted client; then
  leaf client acd-client "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
authorityKeyIdentifier=keyid"
fi

echo "make-test-ca.sh: in $dir"
[ ${#made[@]} -eq 0 ] || echo "  made: ${made[*]}"
[ ${#kept[@]} -eq 0 ] || echo "  kept (already there; --force makes them anew): ${kept[*]}"
if [ ${#args[@]} -gt 1 ] && [[ " ${kept[*]} " == *" server.pem "* ]]; then
  echo "  the SANs given were not used: server.pem was kept (remove server.pem and server.key first)" >&2
fi
echo "  server certificate names: $(openssl x509 -in "$dir/server.pem" -noout -ext subjectAltName | tail -n +2 | sed 's/^ *//')"
cat <<EOF

acdd (TLS on gRPC and HTTPS; --tls_client_ca: only clients with a certificate of this CA get in):
  acdd --tls_cert $dir/server.pem --tls_key $dir/server.key --tls_client_ca $dir/ca.pem --auth_tokens TOKENS_FILE
acdctl (and acdload):
  acdctl --tls_ca $dir/ca.pem --tls_cert $dir/client.pem --tls_key $dir/client.key --token_file TOKEN_FILE ...
Prometheus (scrape_configs[].tls_config):
  ca_file: $dir/ca.pem
Keep ca.key off the acdd host: it is needed only to issue more certificates.
EOF
