# One image for every kindred process: API (gunicorn), worker, scheduler, migrations.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 KINDRED_VAR_DIR=/var/lib/kindred
WORKDIR /app
COPY pyproject.toml README.md ./
COPY service ./service
COPY workers ./workers
COPY migrations ./migrations
RUN pip install --no-cache-dir -e . && useradd --system --home /var/lib/kindred kindred \
    && mkdir -p /var/lib/kindred && chown kindred /var/lib/kindred
USER kindred
EXPOSE 5000
CMD ["kindred", "serve", "--host", "0.0.0.0", "--port", "5000"]
