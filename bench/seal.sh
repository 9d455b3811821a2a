#!/bin/sh
# Sealing benchmark (issue 14): `ckpt seal`, `verify` and `unseal` of builder images
# against `sha256sum` (and `openssl dgst -sha256`, `cp`) of the same file, with peak RSS
# from /usr/bin/time -v, at each size given. Prints a Markdown table to standard output.
#
# Usage: bench/seal.sh [-c CKPT] [-r RUNS] [-d DIR] SIZE...      e.g. bench/seal.sh 256M 1G
#   CKPT  the ckpt binary (default target/release/ckpt)
#   RUNS  measured runs after one warm-up (default 3); the table gives the median wall
#         time and the largest peak RSS
#   DIR   where images and outputs go (default /tmp/ckpt-seal-bench; removed at the end)
set -eu
CKPT=target/release/ckpt
RUNS=3
DIR=/tmp/ckpt-seal-bench
while getopts c:r:d: o; do
    case $o in
        c) CKPT=$OPTARG ;;
        r) RUNS=$OPTARG ;;
        d) DIR=$OPTARG ;;
        *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || { echo "usage: $0 [-c CKPT] [-r RUNS] [-d DIR] SIZE..." >&2; exit 2; }
mkdir -p "$DIR"
trap 'rm -rf "$DIR"' EXIT
"$CKPT" keygen -o "$DIR/k" >/dev/null
"$CKPT" keygen --kind x25519 -o "$DIR/x" >/dev/null
AESKEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
AESIV=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
head -c 32 /dev/urandom > "$DIR/secret"

# measure LABEL COMMAND...: one warm-up, then RUNS runs; prints "| size | LABEL | median s | max RSS MiB |".
measure() {
    label=$1; shift
    "$@" >/dev/null 2>&1
    times=""; rss=0
    i=0
    while [ $i -lt "$RUNS" ]; do
        rm -f "$DIR/out"
        /usr/bin/time -v -o "$DIR/time" "$@" >/dev/null 2>&1
        t=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(j=1;j<=n;j++) s=s*60+a[j]; print s}' "$DIR/time")
        m=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$DIR/time")
        times="$times $t"
        [ "$m" -gt "$rss" ] && rss=$m
        i=$((i + 1))
    done
    med=$(echo $times | tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    printf '| %s | %s | %s | %.1f |\n' "$size" "$label" "$med" "$(echo "$rss / 1024" | bc -l)"
}

echo "| size | command | wall s (median of $RUNS) | peak RSS MiB |"
echo "|---|---|---|---|"
for size in "$@"; do
    img="$DIR/img-$size.ckpt"
    "$CKPT" sample --rev v23-rc2 --arch x86_64 --tasks 4 --memory "$size" -o "$img"
    "$CKPT" seal "$img" -o "$DIR/sealed" --key "$DIR/k" 2>/dev/null
    "$CKPT" seal "$img" -o "$DIR/enc" --key "$DIR/k" --encrypt --recipient "$DIR/x.pub" 2>/dev/null
    cat "$img" "$DIR/sealed" "$DIR/enc" >/dev/null
    measure 'sha256sum IMG' sha256sum "$img"
    measure 'openssl dgst -sha256 IMG' openssl dgst -sha256 "$img"
    measure 'cp IMG OUT' cp "$img" "$DIR/out"
    measure 'ckpt seal IMG -o OUT --key K' "$CKPT" seal "$img" -o "$DIR/out" --key "$DIR/k"
    measure 'ckpt seal IMG -o OUT --secret S' "$CKPT" seal "$img" -o "$DIR/out" --secret "$DIR/secret"
    measure 'ckpt verify SEALED --pubkey K.pub' "$CKPT" verify "$DIR/sealed" --pubkey "$DIR/k.pub"
    measure 'ckpt unseal SEALED --pubkey K.pub -o /dev/null' "$CKPT" unseal "$DIR/sealed" --pubkey "$DIR/k.pub" -o /dev/null
    measure 'ckpt unseal SEALED --pubkey K.pub -o OUT' "$CKPT" unseal "$DIR/sealed" --pubkey "$DIR/k.pub" -o "$DIR/out"
    # Encryption: against openssl's AES-256-CTR (its enc has no AEAD mode) and a SHA-256.
    measure 'openssl enc -aes-256-ctr -in IMG \| sha256sum' sh -c "openssl enc -aes-256-ctr -K $AESKEY -iv $AESIV -in '$img' | sha256sum"
    measure 'openssl enc -aes-256-ctr -in IMG \| openssl dgst -sha256' sh -c "openssl enc -aes-256-ctr -K $AESKEY -iv $AESIV -in '$img' | openssl dgst -sha256"
    measure 'ckpt seal IMG -o OUT --key K --encrypt --recipient X.pub' "$CKPT" seal "$img" -o "$DIR/out" --key "$DIR/k" --encrypt --recipient "$DIR/x.pub"
    measure 'ckpt verify ENC --pubkey K.pub' "$CKPT" verify "$DIR/enc" --pubkey "$DIR/k.pub"
    measure 'ckpt unseal ENC --pubkey K.pub --identity X -o /dev/null' "$CKPT" unseal "$DIR/enc" --pubkey "$DIR/k.pub" --identity "$DIR/x" -o /dev/null
    measure 'ckpt unseal ENC --pubkey K.pub --identity X -o OUT' "$CKPT" unseal "$DIR/enc" --pubkey "$DIR/k.pub" --identity "$DIR/x" -o "$DIR/out"
    rm -f "$img" "$DIR/sealed" "$DIR/enc" "$DIR/out"
done
