// Package hook gives oncelink's packages what one of them holds and does
// not publish: the clock and link parameter of a token.Parser
// ([ParserNow], [ParserParam]), the parser of a verify.Verifier
// ([VerifierParser]), and the one way a member's state is read ([State]).
// The package that owns a value sets its function when it is initialised
// (token and verify import this package for that); a program outside this
// module cannot import it.
//
// # Security considerations
//
// The functions hand out configuration, never a key or a secret. [State]
// turns a panic in a site's state function into an error, so that a
// callback cannot take a verification down with it; every caller treats
// that error as a refusal.
package hook
