package addons

import "embed"

//go:generate go run gen_gatewayapi.go

// gatewayAPIVersion is the sigs.k8s.io/gateway-api module version the files
// in gatewayapi/ were copied from (go generate rewrites both).
const gatewayAPIVersion = gatewayAPIModuleVersion

// The standard-channel CRDs, copied from the module by gen_gatewayapi.go: a
// module's files can only be embedded from inside this repository.
//
//go:embed gatewayapi/*.yaml
var gatewayAPICRDs embed.FS
