#!/usr/bin/env bash
# Builds deploy/Containerfile with buildah and runs the image: `modelship --help`, then
# `modelship serve` on a read-only root file system as the image's non-root user until GET
# /healthz answers. .ci/run calls it after npm test (it is not part of npm test: it takes minutes).
#
# No container registry can be pulled from here, so the base is made locally: a Debian bookworm
# minbase root file system with git and ca-certificates (mmdebstrap, from Debian's packages) plus
# Node 22 and npm from the npm registry (node-linux-<arch>@22, npm@10), laid out as in the
# official node image (/usr/local/bin/node, /usr/local/lib/node_modules/npm). It reaches the
# Containerfile through --build-arg BASE=..., the same argument that names the official image
# elsewhere.
#
# Needs root, buildah, podman (to run with --read-only), runc, mmdebstrap, openssl, and Node 22 + npm on PATH (the GitHub stand-in serve
# authenticates against runs on the host, with the repository's node_modules).
# MODELSHIP_IMAGE_CACHE=DIR keeps the base's tarball there between runs (keyed by Node's version
# and the day); unset, everything is made afresh. Exit 0 when every step passed, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$SECONDS
step() { echo "== $* ($((SECONDS - started)) s)"; }
fail() { echo "FAILED: $*" >&2; exit 1; }

for tool in buildah podman runc mmdebstrap openssl node npm; do
  command -v "$tool" >/dev/null || fail "$tool is not installed"
done
[ "$(id -u)" = 0 ] || fail "run as root (buildah and mmdebstrap build root file systems)"
case "$(uname -m)" in x86_64) arch=x64 ;; aarch64|arm64) arch=arm64 ;; *) fail "no Node package for $(uname -m)" ;; esac

work=$(mktemp -d "${TMPDIR:-/tmp}/modelship-image.XXXXXX")
tag=$(basename "$work" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9\n' '-')
base_image="localhost/modelship-base:$tag"
image="localhost/modelship:$tag"
containers=()
stand_in_pid=
cleanup() {
  [ -n "$stand_in_pid" ] && kill "$stand_in_pid" 2>/dev/null
  for c in "${containers[@]}"; do podman rm -f "$c" >/dev/null 2>&1 || buildah rm "$c" >/dev/null 2>&1 || true; done
  buildah rmi "$image" "$base_image" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# --- the base --------------------------------------------------------------------------------
step "Node 22 and npm from the npm registry"
(cd "$work" && npm pack --silent "node-linux-$arch@22" "npm@10" >packed.txt)
node_tgz="$work/$(grep '^node-linux' "$work/packed.txt")"
npm_tgz="$work/$(grep '^npm-' "$work/packed.txt")"
node_version=$(basename "$node_tgz" .tgz | sed "s/^node-linux-$arch-//")
base_tar=
if [ -n "${MODELSHIP_IMAGE_CACHE:-}" ]; then
  mkdir -p "$MODELSHIP_IMAGE_CACHE"
  base_tar="$MODELSHIP_IMAGE_CACHE/base-bookworm-node$node_version-$(basename "$npm_tgz" .tgz)-$(date -u +%F).tar"
fi
if [ -n "$base_tar" ] && [ -s "$base_tar" ]; then
  step "base from the cache: $base_tar"
else
  step "base: mmdebstrap bookworm minbase + git + ca-certificates, Node $node_version"
  out="${base_tar:-$work/base.tar}"
  # The hooks run on the host with the new root as $1: unpack node (bin/node only) and npm there.
  mmdebstrap --quiet --variant=minbase --include=git,ca-certificates \
    --customize-hook="tar -xzf '$node_tgz' -C \"\$1/usr/local\" --strip-components=1 package/bin/node" \
    --customize-hook="mkdir -p \"\$1/usr/local/lib/node_modules/npm\" && tar -xzf '$npm_tgz' -C \"\$1/usr/local/lib/node_modules/npm\" --strip-components=1" \
    --customize-hook="ln -s ../lib/node_modules/npm/bin/npm-cli.js \"\$1/usr/local/bin/npm\" && ln -s ../lib/node_modules/npm/bin/npx-cli.js \"\$1/usr/local/bin/npx\"" \
    bookworm "${out%.tar}.partial.tar" >"$work/mmdebstrap.log" 2>&1 || { cat "$work/mmdebstrap.log" >&2; fail "mmdebstrap"; }
  mv "${out%.tar}.partial.tar" "$out"
  base_tar=$out
fi
step "import the base into buildah as $base_image"
ctr=$(buildah from scratch); containers+=("$ctr")
buildah add --quiet "$ctr" "$base_tar" / >/dev/null
buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd node "$ctr"
buildah commit --quiet "$ctr" "$base_image" >/dev/null

# --- the image -------------------------------------------------------------------------------
step "buildah bud -f deploy/Containerfile --build-arg BASE=$base_image"
# --network host: the build's npm ci reaches the npm registry as the host does. runc, not crun:
# crun 1.8 refuses hosts with hybrid cgroups ("cgroups in hybrid mode not supported"), as here;
# the ulimits are the defaults' replacement where they exceed the host's hard limits (runc
# cannot raise them: "error setting rlimit ... operation not permitted").
limits=(--ulimit nofile=4096:4096 --ulimit nproc=4096:4096)
# Behind a TLS-intercepting proxy (the host's Node trusts it through NODE_EXTRA_CA_CERTS), npm in
# the build needs the same CA bundle: mounted read-only for the build, never copied into a layer.
proxy_ca=()
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -s "$NODE_EXTRA_CA_CERTS" ]; then
  proxy_ca=(--volume "$NODE_EXTRA_CA_CERTS:/run/host-ca.pem:ro" --build-arg NODE_EXTRA_CA_CERTS=/run/host-ca.pem)
fi
buildah bud --quiet --runtime runc "${limits[@]}" "${proxy_ca[@]}" --network host --layers=false --build-arg "BASE=$base_image" \
  -f deploy/Containerfile -t "$image" . >"$work/build.log" 2>&1 || { tail -40 "$work/build.log" >&2; fail "the image does not build"; }

step "the image's configuration"
config=$(buildah inspect --type image "$image")
node -e '
  const c = JSON.parse(process.argv[1]).OCIv1.config; console.log(JSON.stringify({ User: c.User, Entrypoint: c.Entrypoint, Cmd: c.Cmd, WorkingDir: c.WorkingDir })); const want = (ok, what) => { if (!ok) { console.error("FAILED: " + what); process.exitCode = 1; } };
  want(/^[1-9][0-9]*(:[0-9]+)?$/.test(c.User ?? ""), `a numeric non-root USER, found ${JSON.stringify(c.User)}`);
  want(JSON.stringify(c.Entrypoint) === JSON.stringify(["node", "/app/dist/cli.js"]), `ENTRYPOINT ["node","/app/dist/cli.js"] (exec form, no shell), found ${JSON.stringify(c.Entrypoint)}`);
  want(JSON.stringify(c.Cmd) === JSON.stringify(["serve"]), `CMD ["serve"], found ${JSON.stringify(c.Cmd)}`);
' "$config" || fail "the image's configuration"

# Runs the image as in the Deployment: its own user, a read-only root file system, writable /tmp
# and /var/lib/modelship only (fresh host directories; --read-only-tmpfs=false so podman adds no
# writable tmpfs of its own), the secrets read-only, the host's network (the stand-in is on loopback).
mkdir -p "$work/tmp" "$work/mirrors" "$work/secrets"
chown 10001:10001 "$work/tmp" "$work/mirrors"
in_image() {
  podman --runtime runc run "${limits[@]}" --rm --read-only --read-only-tmpfs=false --network host --cap-drop ALL \
    --security-opt no-new-privileges \
    -v "$work/tmp:/tmp" -v "$work/mirrors:/var/lib/modelship" -v "$work/secrets:/secrets:ro" "$@"
}

step "modelship --help"
help=$(in_image "$image" --help) || fail "modelship --help exited non-zero"
grep -q '^Usage: modelship' <<<"$help" || { echo "$help" >&2; fail "modelship --help does not print the usage: $help"; }
echo "$help" | head -2

step "the root file system is read-only, the user is not root, no npm and no dev dependencies"
probe=$(in_image --entrypoint node "$image" -e '
  const fs = require("fs"); let root = "writable";
  try { fs.writeFileSync("/app/x", "x"); } catch (e) { root = e.code; }
  fs.writeFileSync("/tmp/x", "x"); fs.mkdirSync("/var/lib/modelship/mirrors", { recursive: true });
  const present = (p) => (fs.existsSync(p) ? p : "");
  console.log(process.getuid(), root, present("/usr/local/bin/npm") || "no-npm", present("/app/node_modules/typescript") || "no-dev-deps");') || fail "the probe did not run"
[ "$probe" = "10001 EROFS no-npm no-dev-deps" ] || fail "expected uid 10001, EROFS writing /app, no npm and no dev dependencies; found: $probe"
git_version=$(in_image --entrypoint git "$image" --version) || fail "git is not in the image"
echo "uid, root: $probe; $git_version"

step "modelship serve: GET /healthz from inside the image"
# serve authenticates as its App at start (GET /app): the GitHub stand-in, on the host.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/secrets/app.pem" 2>/dev/null
openssl rand -hex 20 >"$work/secrets/webhook-secret"
chmod 0644 "$work/secrets/app.pem" "$work/secrets/webhook-secret"
node --import tsx tools/image/github-stand-in.ts "$work/secrets/app.pem" >"$work/stand-in.url" 2>"$work/stand-in.log" &
stand_in_pid=$!
for _ in $(seq 100); do [ -s "$work/stand-in.url" ] && break; sleep 0.2; done
github=$(cat "$work/stand-in.url"); [ -n "$github" ] || { cat "$work/stand-in.log" >&2; fail "the GitHub stand-in did not start"; }
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
name="modelship-serve-$tag"
in_image -d --name "$name" -e MODELSHIP_GITHUB_APP_ID=4242 -e MODELSHIP_GITHUB_PRIVATE_KEY_FILE=/secrets/app.pem \
  -e MODELSHIP_WEBHOOK_SECRET_FILE=/secrets/webhook-secret -e MODELSHIP_GITHUB_API_URL="$github" \
  -e MODELSHIP_LISTEN="127.0.0.1:$port" "$image" >/dev/null || fail "podman run serve"
containers+=("$name")
serve_started=$SECONDS
healthz=
for _ in $(seq 150); do
  healthz=$(podman --runtime runc exec "$name" node -e '
    fetch(process.argv[1]).then(async (r) => console.log(r.status, await r.text()), () => {});' "http://127.0.0.1:$port/healthz") && [ -n "$healthz" ] && break
  [ "$(podman inspect -f '{{.State.Running}}' "$name")" = true ] || { podman logs "$name" >&2; fail "serve exited"; }
  sleep 0.2
done
podman logs "$name" 2>&1 | sed 's/^/  serve: /'
[ "$healthz" = '200 {"status":"ok"}' ] || fail "GET /healthz from inside the image answered: ${healthz:-nothing}"
echo "GET /healthz: $healthz ($((SECONDS - serve_started)) s after start)"
podman stop -t 10 "$name" >/dev/null

echo "image build and run test passed in $((SECONDS - started)) s"
