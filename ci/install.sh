#!/usr/bin/env bash
# Installs a released nib: downloads this machine's archive and the release's SHA256SUMS, checks the archive's
# sha256, and only then moves the binary into place, by a rename within one folder, so a cut or corrupt download
# never leaves a file under the final name. The GitHub action (action.yml) and the GitLab template
# (ci/gitlab-nib-review.yml) install through it; people can run it too.
#
# Usage: install.sh [--version latest|X.Y.Z] [--variant cpu|cuda|vulkan] [--dir DIR] [--target TRIPLE]
#   --version  the release (default latest)
#   --variant  cpu (default), or a GPU build: cuda or vulkan (Linux and Windows x86-64; macOS builds have Metal)
#   --dir      where the binary goes (default ~/.local/bin)
#   --target   the Rust target triple (default: this machine's)
# NIB_RELEASES_URL (default https://github.com/nib-dev/nib/releases/download) is where each release's files are,
# under `vX.Y.Z/` (a mirror, or a loopback server in the tests; the Neovim plugin's installer reads it too); the
# latest version is found as on GitHub, where the folder above's `latest` redirects to `tag/vX.Y.Z`.
# Prints the installed binary's path on stdout; what it does on stderr.
set -euo pipefail

die() {
  echo "install.sh: $*" >&2
  exit 1
}

releases="${NIB_RELEASES_URL:-https://github.com/nib-dev/nib/releases/download}"
releases="${releases%/}"
version=latest
variant=cpu
dir="$HOME/.local/bin"
target=""
while (($#)); do
  case "$1" in
    --version | --variant | --dir | --target)
      (($# >= 2)) || die "$1 needs a value"
      case "$1" in
        --version) version="$2" ;;
        --variant) variant="$2" ;;
        --dir) dir="$2" ;;
        --target) target="$2" ;;
      esac
      shift 2
      ;;
    -h | --help)
      sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p;}' "$0"
      exit 0
      ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done

if [ -z "$target" ]; then
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) target=x86_64-unknown-linux-gnu ;;
    Linux-aarch64 | Linux-arm64) target=aarch64-unknown-linux-gnu ;;
    Darwin-arm64) target=aarch64-apple-darwin ;;
    MINGW*-x86_64 | MSYS*-x86_64 | CYGWIN*-x86_64) target=x86_64-pc-windows-msvc ;;
    *) die "no release build for $(uname -s) $(uname -m): build from source (cargo install --locked --path server/nib)" ;;
  esac
fi
case "$variant" in
  cpu) suffix="" ;;
  cuda | vulkan)
    case "$target" in
      x86_64-unknown-linux-gnu | x86_64-pc-windows-msvc) suffix="-$variant" ;;
      *) die "no $variant build for $target" ;;
    esac
    ;;
  *) die "unknown variant $variant (cpu, cuda or vulkan)" ;;
esac

fetch() {
  if command -v curl >/dev/null; then
    curl --fail --location --silent --show-error --retry 3 --output "$2" "$1"
  elif command -v wget >/dev/null; then
    wget --quiet --output-document "$2" "$1"
  else
    die "needs curl or wget"
  fi
}

sha256() {
  if command -v sha256sum >/dev/null; then
    sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null; then
    shasum -a 256 "$1" | cut -d' ' -f1
  else
    openssl dgst -sha256 -r "$1" | cut -d' ' -f1
  fi
}

if [ "$version" = latest ]; then
  command -v curl >/dev/null || die "--version latest needs curl: name a version with --version"
  # GitHub answers `latest` with a redirect to the release's tag page; the tag is the last part of where it ends.
  latest="${releases%/download}/latest"
  landed="$(curl --fail --location --silent --show-error --head --output /dev/null --write-out '%{url_effective}' \
    "$latest")" || die "cannot reach $latest"
  version="${landed##*/}"
fi
version="${version#v}"
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || die "not a release version: $version"

stem="nib-$version-$target$suffix"
exe=nib
archive="$stem.tar.gz"
if [[ $target == *-windows-* ]]; then
  exe=nib.exe
  archive="$stem.zip"
fi
base="$releases/v$version"

mkdir -p "$dir"
# The work happens in a folder inside DIR, so the last step is a rename within one file system; it goes on exit.
tmp="$(mktemp -d "$dir/.nib-install.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

echo "install.sh: downloading $base/$archive" >&2
fetch "$base/SHA256SUMS" "$tmp/SHA256SUMS" || die "cannot download $base/SHA256SUMS"
fetch "$base/$archive" "$tmp/$archive" || die "cannot download $base/$archive"
# sha256sum's lines: the hash, a space, a space or `*` (binary mode), the name.
want="$(awk -v name="$archive" '$2 == name || $2 == "*" name { print $1; exit }' "$tmp/SHA256SUMS")"
[ -n "$want" ] || die "SHA256SUMS of $version does not list $archive: not installed"
got="$(sha256 "$tmp/$archive")"
[ "$got" = "$want" ] || die "$archive has sha256 $got, SHA256SUMS says $want: not installed"

mkdir "$tmp/unpacked"
if [ "${archive%.zip}" != "$archive" ]; then
  if command -v unzip >/dev/null; then
    unzip -q "$tmp/$archive" -d "$tmp/unpacked"
  else
    powershell -NoProfile -Command "Expand-Archive -LiteralPath '$(cygpath -w "$tmp/$archive")' -DestinationPath '$(cygpath -w "$tmp/unpacked")'"
  fi
else
  tar -xzf "$tmp/$archive" -C "$tmp/unpacked"
fi
binary="$tmp/unpacked/$stem/$exe"
[ -f "$binary" ] || die "$archive holds no $stem/$exe"
chmod +x "$binary"
mv -f "$binary" "$dir/$exe"
echo "install.sh: installed nib $version ($target$suffix) as $dir/$exe" >&2
echo "$dir/$exe"
