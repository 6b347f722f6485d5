# KingTech P1 Reader: a single compiled binary on a small runtime image.
#
#   docker build -t kingtech-p1reader .
#   docker run -d --device /dev/ttyUSB0 --group-add "$(stat -c %g /dev/ttyUSB0)" -p 8888:80 \
#     -v p1reader-data:/data -e P1ReceiverSettings__SerialPort=/dev/ttyUSB0 kingtech-p1reader
#
# Multi-arch (amd64, arm64): docker buildx build --platform linux/amd64,linux/arm64 .
# The build stage runs on the build machine's platform and cross-compiles for the target.

FROM --platform=$BUILDPLATFORM denoland/deno:2.9.5 AS build
ARG TARGETARCH
WORKDIR /src
# Dependencies first, exactly as locked, so that this layer is cached across source changes.
COPY deno.json deno.lock ./
RUN deno install --frozen
COPY . .
# The same permission flags as `deno task compile` (the CI bundle test runs with them).
RUN case "$TARGETARCH" in \
      amd64) target=x86_64-unknown-linux-gnu ;; \
      arm64) target=aarch64-unknown-linux-gnu ;; \
      *) echo "unsupported architecture: $TARGETARCH" >&2; exit 1 ;; \
    esac && \
    deno compile --frozen --no-prompt --allow-net --allow-env --allow-read --allow-write --allow-ffi \
      --target "$target" -o /out/p1reader main.ts && \
    mkdir -p /out/data

# distroless/cc: glibc and libgcc, which the binary needs, CA certificates, no shell, no curl.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/p1reader /usr/local/bin/p1reader
# The data directory (the energy history, the DSMR reader push queue) belongs to the runtime user.
COPY --from=build --chown=65532:20 /out/data /data
# Non-root, in group 20 (dialout on Debian, Ubuntu and Raspberry Pi OS). The group only helps when
# the host's device has that gid: pass --group-add with the host's gid otherwise (see README).
USER 65532:20
ENV P1READER_HOST=0.0.0.0 \
    P1READER_PORT=80 \
    P1READER_DATA_DIR=/data \
    P1READER_LOG_FORMAT=text
VOLUME /data
# Like the original: port 80 (Docker lets non-root processes bind it inside the container).
EXPOSE 80
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 CMD ["/usr/local/bin/p1reader", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/p1reader"]
