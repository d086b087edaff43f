# edumon as a container (docker-compose.yml builds it): the package and its entry point.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /opt/edumon
COPY pyproject.toml README.md ./
COPY gateway gateway
COPY collectors collectors
COPY simulators simulators
COPY dashboards dashboards
COPY examples examples
RUN pip install . && mkdir -p /var/lib/edumon /etc/edumon

EXPOSE 9108 162/udp
ENTRYPOINT ["edumon"]
CMD ["run", "-c", "/etc/edumon/edumon.yaml"]
