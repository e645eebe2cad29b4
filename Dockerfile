# autoplat in a container: the wheel built from this tree, installed into a small non-root
# image. `docker build -t autoplat .` then see compose.yaml (autoplat + PostgreSQL).
# Invariants: nothing of the checkout but the wheel reaches the final image; the process
# runs as an unprivileged user; data lives under /var/lib/autoplat (a volume).

# --- build: the wheel (the web app's bundle, the API docs and the migrations are inside) ---
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

# --- run -------------------------------------------------------------------------------
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# The data dir exists in the image, owned by the user: a new volume mounted there takes
# that ownership (a missing mount point would be created root-owned).
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/autoplat --create-home \
        --shell /usr/sbin/nologin autoplat \
    && install -d -o autoplat -g autoplat -m 0750 /var/lib/autoplat/data
COPY --from=build /dist/ /tmp/dist/
RUN python -m pip install /tmp/dist/*.whl && rm -rf /tmp/dist
USER autoplat:autoplat
WORKDIR /var/lib/autoplat
# Inside a container the server must listen on every interface, which autoplat allows only
# with authentication configured: set AUTOPLAT_JWT_SECRET (and AUTOPLAT_ENCRYPTION_KEY).
ENV AUTOPLAT_HOST=0.0.0.0 \
    AUTOPLAT_PORT=8006 \
    AUTOPLAT_DATA_DIR=/var/lib/autoplat/data \
    AUTOPLAT_LOG_FORMAT=json
VOLUME ["/var/lib/autoplat/data"]
EXPOSE 8006
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('AUTOPLAT_PORT', '8006'), timeout=4)"]
# SIGTERM drains running work (AUTOPLAT_DRAIN_TIMEOUT) and exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["autoplat"]
CMD ["serve"]
