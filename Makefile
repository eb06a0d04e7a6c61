# meshgate: `make test` runs everything that works with Go and apt only;
# `make e2e` is the main job and needs Docker. `make help` lists the targets.

SHELL     := bash
.SHELLFLAGS := -o pipefail -c

GO        ?= go
MESH      ?=
RUN       ?= $(shell date -u +%Y%m%d-%H%M%S)
OUT       ?= reports/out/$(RUN)
GOTESTFLAGS ?=
BENCHFLAGS  ?=
E2EFLAGS    ?=

# The envtest control plane (kube-apiserver + etcd) is built from Go modules
# once per version and cached outside the repository.
ENVTEST_ASSETS = $(shell hack/envtest-assets.sh)
# The simulated cluster's controller manager, scheduler and kwok, when built
# (`make sim-assets`); without them its tests skip with the reason.
SIM_ASSETS = $(shell hack/envtest-assets.sh --sim --if-built)

.PHONY: help test test-sim sim-assets e2e e2e-edge bench bench-local report lint envtest-assets clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

test: envtest-assets ## unit, envtest, local nginx and browser checks; Docker suites skip with their reason
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" MESHGATE_SIM_ASSETS="$(SIM_ASSETS)" $(GO) test -json $(GOTESTFLAGS) ./... | $(GO) run ./hack/testsummary

test-sim: envtest-assets sim-assets ## up/down for Kuma, Istio and Istio ambient with the real charts (MESHGATE_CHARTS_DIR) on the simulated cluster, each step printed
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" MESHGATE_SIM_ASSETS="$(SIM_ASSETS)" $(GO) test -count=1 -v -timeout 20m -run '^TestSim' ./internal/kubetest/ ./internal/stack/

e2e: ## the main job: doctor, a kind cluster per mesh, the suites (MESH=kuma|istio|istio-ambient, SCENARIO=id, KEEP=1), reports in $(OUT)
	$(GO) run ./cmd/meshgate e2e $(if $(MESH),--mesh $(MESH)) $(if $(SCENARIO),--scenario $(SCENARIO)) $(if $(KEEP),--keep) --out $(OUT) $(E2EFLAGS)

e2e-edge: ## edge mTLS suites in containers (Kong, NGINX, Envoy); needs Docker
	$(GO) test ./suites/edge/... -count=1 -v -timeout 30m -args -ginkgo.v -ginkgo.label-filter=edge

bench: ## latency overhead per hop on a kind cluster (MESH=kuma|istio narrows; needs Docker)
	set -e; for m in $(or $(MESH),kuma istio); do $(GO) run ./cmd/meshgate bench --mesh $$m --out $(OUT)/bench-$$m $(BENCHFLAGS); done

bench-local: ## the same bench engine on loopback, no cluster
	$(GO) run ./cmd/meshgate bench --local --out $(OUT)

report: ## JSON, Markdown, HTML, charts, JUnit from run folders: make report IN="reports/out/a reports/out/b" [OUT=dir]
	$(GO) run ./cmd/meshgate report $(if $(IN),,$(error IN is empty: make report IN="reports/out/<run> ...")) $(foreach d,$(IN),--in $(d)) --out $(OUT)/report

lint: ## gofmt, go vet, actionlint on the workflows
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool actionlint .github/workflows/*.yml

envtest-assets: ## build kube-apiserver and etcd for envtest (cached)
	@hack/envtest-assets.sh >/dev/null

sim-assets: ## build kube-controller-manager, kube-scheduler and kwok for the simulated cluster (cached; about 15 minutes the first time)
	@hack/envtest-assets.sh --sim >/dev/null

clean: ## remove local run output (not the envtest cache)
	rm -rf reports/out
