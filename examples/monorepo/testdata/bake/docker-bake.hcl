# The monorepo example's three targets for docker buildx bake:
#   SRC=.../testdata/src GOROOT=$(go env GOROOT) OUT=DIR buildx bake -f docker-bake.hcl
variable "SRC" {}
variable "GOROOT" {}
variable "OUT" {}
variable "DOCKERFILE" {}

group "default" {
  targets = ["api", "worker", "test"]
}

target "_common" {
  context    = SRC
  dockerfile = DOCKERFILE
  contexts   = { go = GOROOT }
}

target "api" {
  inherits = ["_common"]
  target   = "api"
  tags     = ["monorepo/api:latest"]
  output   = ["type=oci,dest=${OUT}/api.tar"]
}

target "worker" {
  inherits = ["_common"]
  target   = "worker"
  tags     = ["monorepo/worker:latest"]
  output   = ["type=oci,dest=${OUT}/worker.tar"]
}

target "test" {
  inherits = ["_common"]
  target   = "test"
  output   = ["type=cacheonly"]
}
