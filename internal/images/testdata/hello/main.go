// Command hello is the tiny program the image builder's tests package.
package main

import "fmt"

func main() { fmt.Println("hello from meshgate's image builder test") }
