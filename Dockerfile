# One image for every kindred process: API (gunicorn), worker, scheduler, migrations.
# The entry point is `kindred`: `docker run IMAGE worker`, `docker compose run --rm worker jobs failed`.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    KINDRED_VAR_DIR=/var/lib/kindred
WORKDIR /app
COPY pyproject.toml README.md ./
COPY service ./service
COPY workers ./workers
COPY migrations ./migrations
# The runtime dependencies only (no [dev] extra). Installed in place (-e): the migrations are
# read from /app/migrations, beside the package. The code stays root's, read-only to kindred.
# models/ exists in the image so that a named volume mounted there starts out kindred's.
RUN pip install --no-cache-dir -e . \
    && useradd --system --no-create-home --home-dir /var/lib/kindred kindred \
    && mkdir -p /var/lib/kindred/models && chown -R kindred /var/lib/kindred
USER kindred
EXPOSE 5000
# SIGTERM is the warm shutdown of gunicorn and of RQ's worker.
STOPSIGNAL SIGTERM
ENTRYPOINT ["kindred"]
CMD ["serve", "--host", "0.0.0.0", "--port", "5000"]
