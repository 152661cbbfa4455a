# A small image of one chargeledger node on the official Python image, run as a
# non-root user. Build: docker build -t chargeledger .  Run: docker compose up
# (compose.yaml: PostgreSQL and two nodes).

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN groupadd --system --gid 10001 chargeledger \
    && useradd --system --uid 10001 --gid 10001 --create-home \
        --home-dir /var/lib/chargeledger chargeledger
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index /wheels/*.whl && rm -rf /wheels
USER 10001:10001
WORKDIR /var/lib/chargeledger
# Every option of `chargeledger serve` reads CHARGELEDGER_<OPTION>; these two make a
# container reachable from outside and keep its SQLite file (the default store) in the
# user's home, a volume in compose.yaml. Set CHARGELEDGER_API_TOKEN, or read the token
# the node prints at start.
ENV CHARGELEDGER_HOST=0.0.0.0 \
    CHARGELEDGER_STORE=sqlite:////var/lib/chargeledger/chargeledger.db \
    PYTHONUNBUFFERED=1
EXPOSE 9000 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('CHARGELEDGER_API_PORT', '8000') + '/readyz', timeout=2)"]
ENTRYPOINT ["chargeledger"]
CMD ["serve"]
