# edumon as a container (docker-compose.yml builds it): the service only — no simulators, no
# test tools, no dashboard or report extras — running as the unprivileged user `edumon`.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE MANIFEST.in ./
COPY gateway gateway
COPY collectors collectors
COPY dashboards dashboards
COPY examples examples
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
COPY --from=build /wheels /wheels
RUN pip install /wheels/*.whl && rm -rf /wheels \
    && apt-get update && apt-get install -y --no-install-recommends libcap2-bin \
    && setcap cap_net_raw,cap_net_bind_service+ep "$(readlink -f /usr/local/bin/python3)" \
    && apt-get purge -y libcap2-bin && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/edumon --shell /usr/sbin/nologin edumon \
    && mkdir -p /var/lib/edumon /etc/edumon && chown edumon:edumon /var/lib/edumon
# ICMP probes (raw sockets) and traps on udp/162 need NET_RAW and NET_BIND_SERVICE: the
# interpreter carries them as file capabilities, so the user needs no root (compose adds them
# to the container's bounding set and drops the rest)
USER edumon
WORKDIR /var/lib/edumon
EXPOSE 9108 162/udp
ENTRYPOINT ["edumon"]
CMD ["--log-format", "json", "run", "-c", "/etc/edumon/edumon.yaml"]
