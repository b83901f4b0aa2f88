#!/usr/bin/env bash
# Pull and unpack of a ~230 MB image (three gzip layers: /usr/include, /usr/lib/python3.11,
# /usr/lib/python3 of this host) from docker-registry on 127.0.0.1, against `podman pull`
# (bench/lib.sh's podman and store) and `skopeo copy` to an OCI dir, medians of 3 cold runs
# each, as the unprivileged test user. Prints the medians and hutch's ratio to each. Run as root.
set -euo pipefail
runs=${BENCH_RUNS:-3}
. "$(dirname "$0")/lib.sh"
bench_init pull
chmod 755 "$work"
trap '[ -n "${BENCH_KEEP:-}" ] || { podman_cleanup; rm -rf "$work"; }' EXIT
[ -f "$repo/dist/bundle/cli.cjs" ] || { echo "pull.bench: run \`npm run build\` first" >&2; exit 1; }

# --- the image, as an OCI layout (built as root once) ---
layout=$work/layout
mkdir -p "$layout/blobs/sha256"
blob() { # file -> prints "digest size", moves the file into the layout
  local d; d=$(sha256sum "$1" | cut -d' ' -f1)
  mv "$1" "$layout/blobs/sha256/$d"
  echo "sha256:$d $(stat -c %s "$layout/blobs/sha256/$d")"
}
diff_ids=() layers=()
for dir in usr/include usr/lib/python3.11 usr/lib/python3; do
  tar -C / --numeric-owner -cf "$work/layer.tar" "$dir"
  diff_ids+=("sha256:$(sha256sum "$work/layer.tar" | cut -d' ' -f1)")
  gzip -1 -n "$work/layer.tar"
  read -r d s < <(blob "$work/layer.tar.gz")
  layers+=("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"$d\",\"size\":$s}")
done
ids=$(printf '"%s",' "${diff_ids[@]}")
printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":[%s]}}' "${ids%,}" > "$work/config.json"
read -r cd cs < <(blob "$work/config.json")
ls=$(printf '%s,' "${layers[@]}")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[%s]}' "$cd" "$cs" "${ls%,}" > "$work/manifest.json"
read -r md ms < <(blob "$work/manifest.json")
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"bench"}}]}' "$md" "$ms" > "$layout/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' > "$layout/oci-layout"
chown -R "$user:" "$work"
podman_init
echo "image: $(du -sm "$layout" | cut -f1) MB compressed, 3 layers"

# --- everything else as the test user ---
runuser -u "$user" -- env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$work/home" WORK="$work" REPO="$repo" RUNS="$runs" PODMAN="$podman" bash <<'EOF'
set -euo pipefail
export XDG_RUNTIME_DIR=$WORK/home/run XDG_CONFIG_HOME=$WORK/home/config XDG_DATA_HOME=$WORK/home/data TMPDIR=$WORK/home/tmp
export CONTAINERS_REGISTRIES_CONF=$WORK/podman/registries.conf # podman's (lib.sh): no registry to search
mkdir -p "$XDG_RUNTIME_DIR" "$XDG_CONFIG_HOME" "$TMPDIR" && chmod 700 "$XDG_RUNTIME_DIR"
port=$(node -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' "$WORK/storage" "$port" > "$WORK/registry.yml"
docker-registry serve "$WORK/registry.yml" >/dev/null 2>&1 &
registry=$!
trap 'kill $registry' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
ref=127.0.0.1:$port/bench/usr:1
skopeo copy --quiet --dest-tls-verify=false "oci:$WORK/layout:bench" "docker://$ref"
hyperfine --runs "$RUNS" --export-json "$WORK/results.json" \
  --prepare "rm -rf $WORK/hutch $WORK/oci; $PODMAN system reset -f >/dev/null 2>&1 || true; sync" \
  -n hutch "$REPO/bin/hutch pull -q --tls-verify=false --root $WORK/hutch $ref" \
  -n podman "$PODMAN pull -q --tls-verify=false $ref" \
  -n skopeo "skopeo copy --quiet --src-tls-verify=false docker://$ref oci:$WORK/oci:bench" >/dev/null
echo "podman storage driver: $($PODMAN info --format '{{.Store.GraphDriverName}}' 2>/dev/null)"
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).results;
const m = Object.fromEntries(r.map((x) => [x.command, x.median]));
for (const x of r) console.log(`${x.command.padEnd(7)} median ${x.median.toFixed(2)} s  (runs: ${x.times.map((t) => t.toFixed(2)).join(", ")})`);
console.log(`ratio hutch/podman ${(m.hutch / m.podman).toFixed(2)}  hutch/skopeo ${(m.hutch / m.skopeo).toFixed(2)}  (below 1: hutch faster)`);
' "$WORK/results.json"
EOF
