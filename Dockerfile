# Multi-stage build: a small runtime image with just the binary.
#   docker build -t staffhome .
#   docker run -p 8080:8080 -v staffhome-data:/data -v $PWD/staffhome.toml:/etc/staffhome.toml:ro staffhome
# (set server.bind = "0.0.0.0:8080", an admin_token (/metrics then needs it) and database.path = "/data/staffhome.db" in the config)
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked && strip target/release/staffhome

FROM debian:bookworm-slim
RUN useradd --system --home /data staffhome && mkdir -p /data && chown staffhome /data
COPY --from=build /src/target/release/staffhome /usr/local/bin/staffhome
USER staffhome
WORKDIR /data
EXPOSE 8080
ENTRYPOINT ["staffhome"]
CMD ["serve", "--config", "/etc/staffhome.toml"]
