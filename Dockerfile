# syntax=docker/dockerfile:1
# Build: the whole workspace compiles to one `graphhook` binary.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin graphhook \
    && cp target/release/graphhook /usr/local/bin/graphhook

# Run: a small image with the binary, CA certificates and curl for health checks. /data, owned
# by the non-root user, is where a volume keeps the emulator's state file (a fresh named volume
# takes the directory's owner).
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin graphhook \
    && install -d -o graphhook -g graphhook -m 0700 /data
COPY --from=build /usr/local/bin/graphhook /usr/local/bin/graphhook
USER graphhook
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/graphhook"]
CMD ["api"]
