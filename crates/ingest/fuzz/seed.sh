#!/usr/bin/env bash
# Builds the seed corpora for the fuzz targets from the repository's fixtures:
#   corpus/blk_scan/     whole records from the start of fixtures/btc/mainnet/first-100k-blocks.dat
#                        (about 20 KB), plain, with a preallocated zero tail, and XOR-obfuscated
#   corpus/parse_block/  three raw blocks taken out of the same file (genesis, the first block
#                        with more than one transaction, the largest block)
# Set SEED_LARGE=1 to also add the ~1 MB segwit block fixtures/btc/mainnet/block-481829.raw to
# corpus/parse_block (slower iterations; pair it with -max_len=1048576).
# corpus/ is git-ignored; rerun this script whenever it is missing.
# Needs only bash, GNU coreutils, awk and xxd.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
fixtures=$(cd "$here/../../../fixtures/btc/mainnet" && pwd)
blk="$fixtures/first-100k-blocks.dat"
want=${SEED_BYTES:-20000}

scan_dir="$here/corpus/blk_scan"
parse_dir="$here/corpus/parse_block"
mkdir -p "$scan_dir" "$parse_dir"

size=$(stat -c %s "$blk")

# u32 little-endian at byte offset $1 of $blk
u32le() {
    od -An -v -tu1 -j "$1" -N4 "$blk" | awk '{ print $1 + $2 * 256 + $3 * 65536 + $4 * 16777216 }'
}

# $2 bytes of $blk from byte offset $1
extract() {
    dd if="$blk" iflag=skip_bytes,count_bytes skip="$1" count="$2" status=none
}

# Walk every record: [magic 4][len 4][block len]. The blk_scan seed is the records up to the
# first boundary at or past $want bytes; the parse_block seeds are the genesis block, the first
# block with more than one transaction and the largest block in the file.
pos=0
records=0
prefix=0
first_multi=-1
largest=-1
largest_len=0
while (( pos + 8 <= size )); do
    len=$(u32le $((pos + 4)))
    (( len == 0 || pos + 8 + len > size )) && break
    # The early chain's coinbase-only blocks are 215 bytes; bigger ones carry payments.
    if (( first_multi < 0 && len > 300 )); then first_multi=$pos; fi
    if (( len > largest_len )); then largest=$pos; largest_len=$len; fi
    pos=$((pos + 8 + len))
    records=$((records + 1))
    if (( prefix == 0 && pos >= want )); then prefix=$pos; scan_records=$records; fi
done
if (( prefix == 0 )); then prefix=$pos; scan_records=$records; fi

extract 8 "$(u32le 4)" > "$parse_dir/genesis"
if (( first_multi >= 0 )); then
    extract $((first_multi + 8)) "$(u32le $((first_multi + 4)))" > "$parse_dir/first-multi-tx"
fi
extract $((largest + 8)) "$largest_len" > "$parse_dir/largest"

# blk_scan input: [flag][xor key if flag is odd][blk00000.dat content]
{ printf '\x00'; head -c "$prefix" "$blk"; } > "$scan_dir/plain"
{ printf '\x00'; head -c "$prefix" "$blk"; head -c 4096 /dev/zero; } > "$scan_dir/zero-tail"
key=(0x5a 0x13 0xc7 0x01 0xee 0x42 0x99 0x7d)
{
    printf '\x01'
    for k in "${key[@]}"; do printf "\\x${k#0x}"; done
    # XOR byte i of the file with key[i % 8] (bash arithmetic: mawk has no xor)
    read -r -a bytes <<< "$(head -c "$prefix" "$blk" | od -An -v -tu1 | tr -s ' \n' '  ')"
    hex=""
    for i in "${!bytes[@]}"; do
        printf -v h '%02x' $(( bytes[i] ^ key[i % 8] ))
        hex+=$h
    done
    printf '%s' "$hex" | xxd -r -p
} > "$scan_dir/xor"

if [[ "${SEED_LARGE:-0}" == 1 ]]; then
    cp "$fixtures/block-481829.raw" "$parse_dir/segwit-481829"
fi

echo "blk_scan:    $(ls "$scan_dir" | wc -l) inputs, $scan_records records ($prefix bytes) from $(basename "$blk")"
echo "parse_block: $(ls "$parse_dir" | wc -l) inputs"
