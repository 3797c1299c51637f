package flow

// Words of the flows' pages beside [verify.Message]'s. Each says what the
// person can do next, and nothing the page does not already show.
const (
	// MessageCheckNumber is [verify.MessageCheckAddress] for a form that
	// asks for the member number.
	MessageCheckNumber = "This link could not be confirmed with that member number. Check the number and try again."
	// MessageLoggedIn is for one's own link, no longer usable, opened while
	// logged in as its member ([WithLoggedIn]).
	MessageLoggedIn = "You are already logged in."
	// MessageRequested is the request flow's answer to every well-formed
	// request, member or not, sent or not.
	MessageRequested = "If that is the email address or member number of a member, we are sending a login link to the email address we have for that member."
	// MessageTypeAddress asks again for input that is neither an email
	// address nor a member number.
	MessageTypeAddress = "Type your email address or your member number."
)
