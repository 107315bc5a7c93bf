# The one image for every Outlast process: `outlast api | worker | reaper | db migrate`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY . .
RUN pip install . && rm -rf /src

# No Outlast process needs root. A numeric USER lets Kubernetes verify runAsNonRoot.
RUN useradd --system --create-home --uid 10001 outlast
USER 10001
WORKDIR /home/outlast

EXPOSE 8000
ENTRYPOINT ["outlast"]
CMD ["--help"]
