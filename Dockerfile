# nscheck container: the scanner with its signature set baked in (the wheel ships signatures/).
#   docker build -t nscheck:0.1.0 .
#   docker run --rm nscheck:0.1.0 scan gw.example.org --format json
# Kubernetes (Indexed Job / CronJob, sharded, merged with `nscheck report`): deploy/kubernetes/.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY nscheck ./nscheck
COPY signatures ./signatures
COPY schemas ./schemas
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
# A fixed, unprivileged user: the scanner needs no privilege (it only opens outbound TCP).
RUN groupadd --system --gid 10001 nscheck \
 && useradd --system --uid 10001 --gid nscheck --home-dir /var/lib/nscheck --create-home nscheck
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER 10001:10001
WORKDIR /var/lib/nscheck
# Verified signature updates (`nscheck signatures update`) and the SIEM spool live here: mount a
# volume to keep them between runs.
ENV NSCHECK_DATA_DIR=/var/lib/nscheck/data PYTHONUNBUFFERED=1
ENTRYPOINT ["nscheck"]
CMD ["--help"]
