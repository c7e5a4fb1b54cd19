# engage: one image for every role (api, worker, dispatcher, migrations, flower).
#   docker build -t engage .
#   docker compose up -d                 (see docs/deploy.md)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, so that editing a template or the code does not reinstall them.
COPY pyproject.toml README.md ./
COPY engage ./engage
COPY workers ./workers
RUN pip install --no-compile . && engage --help > /dev/null

# The clinic's content. Mount your own over these (see docs/deploy.md): the image is generic.
COPY schedules.yaml ./schedules.yaml
COPY templates ./templates

# No root at run time; var/ holds the embedded broker, the file channel and heartbeats.
RUN useradd --system --uid 10001 --home-dir /app engage \
    && mkdir -p /app/var \
    && chown -R engage /app/var
USER engage

EXPOSE 8000 9100 5555
CMD ["engage", "api", "--host", "0.0.0.0"]
