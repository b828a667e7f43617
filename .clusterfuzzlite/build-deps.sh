#!/bin/bash -eu
# The ClusterFuzzLite image's dependency step (run by .clusterfuzzlite/Dockerfile, once, when the
# image is built): installs the `apt` lines of deps.txt and builds the `cmake` / `autotools` lines
# from their pinned source tarballs, each checked against its sha256 before it is unpacked.
#   build-deps.sh DEPS_FILE [PREFIX]      PREFIX defaults to /usr/local
# The C++ libraries are built with clang and libc++ (the engine compiles flowid with
# -stdlib=libc++; a library built against libstdc++ would not link). They are not instrumented:
# ASan and UBSan do not need it, and coverage is wanted in flowid, not in fmt.
deps=$1
prefix=${2:-/usr/local}
work=$(mktemp -d)
export CC=${DEPS_CC:-clang} CXX=${DEPS_CXX:-clang++}
export CFLAGS="-O2 -fPIC" CXXFLAGS="-O2 -fPIC -stdlib=libc++" LDFLAGS="-stdlib=libc++"

apt_packages=()
while read -r kind name version url sha; do
  case ${kind:-#} in
    \#*) continue ;;
    apt) apt_packages+=("$url") ;;
  esac
done <"$deps"
# BUILD_DEPS_SKIP_APT=1: the source builds only (a test of this script outside the image).
if [[ -z ${BUILD_DEPS_SKIP_APT:-} ]]; then
  apt-get update
  apt-get install -y --no-install-recommends "${apt_packages[@]}" zip unzip
  rm -rf /var/lib/apt/lists/*
fi

while read -r kind name version url sha; do
  case ${kind:-#} in
    cmake | autotools) ;;
    *) continue ;;
  esac
  echo "build-deps: $name $version from $url"
  archive=$work/$(basename "$url")
  curl -fsSL --retry 3 -o "$archive" "$url"
  actual=$(sha256sum "$archive" | cut -d' ' -f1)
  if [[ $actual != "$sha" ]]; then
    echo "build-deps: $url: sha256 $actual, deps.txt pins $sha" >&2
    exit 1
  fi
  dir=$work/$name
  mkdir -p "$dir"
  case $archive in
    *.zip) unzip -q "$archive" -d "$dir" ;;
    *) tar -xf "$archive" -C "$dir" ;;
  esac
  top=$(find "$dir" -mindepth 1 -maxdepth 1 -type d | head -n 1)
  if [[ $kind == autotools ]]; then
    (cd "$top" && ./configure --prefix="$prefix" --disable-shared CXXFLAGS="$CXXFLAGS" &&
      make -j"$(nproc)" && make install)
  else
    source_dir=$top
    # zstd's CMake project is in build/cmake.
    [[ -f $top/build/cmake/CMakeLists.txt && ! -f $top/CMakeLists.txt ]] && source_dir=$top/build/cmake
    cmake -S "$source_dir" -B "$dir/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
      -DBUILD_SHARED_LIBS=OFF -DBUILD_TESTING=OFF \
      -DFMT_TEST=OFF -DFMT_DOC=OFF \
      -DZSTD_BUILD_PROGRAMS=OFF -DZSTD_BUILD_SHARED=OFF -DZSTD_BUILD_TESTS=OFF \
      -DCLI11_BUILD_TESTS=OFF -DCLI11_BUILD_EXAMPLES=OFF -DCLI11_BUILD_DOCS=OFF \
      -DRC_ENABLE_TESTS=OFF -DRC_ENABLE_EXAMPLES=OFF -DRC_ENABLE_GTEST=OFF \
      -DJSON_BuildTests=OFF \
      -DSIMDJSON_DEVELOPER_MODE=OFF
    cmake --build "$dir/build" --parallel "$(nproc)"
    cmake --install "$dir/build"
  fi
done <"$deps"
rm -rf "$work"
echo "build-deps: done"
