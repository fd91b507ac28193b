package rules_test

import (
	"context"
	"fmt"
	"time"

	"github.com/acteon/acteon-go/action"
	"github.com/acteon/acteon-go/internal/rules"
)

func Example() {
	src := []byte(`rules:
- {name: block-spam, priority: 1, condition: {field: action.action_type, eq: spam}, action: {type: suppress}}
- {name: big-refund, priority: 2, condition: 'action.payload.amount > 1000', action: {type: deny}}
`)
	rs, _, err := rules.ParseFile("rules.yaml", src, rules.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	set, _ := rules.NewSet(rs)
	a, _ := action.Decode([]byte(`{"namespace":"ns","tenant":"t1","provider":"email","action_type":"refund","payload":{"amount":1500}}`))
	res := set.Evaluate(context.Background(), rules.Input{Action: a, Now: time.Now()})
	fmt.Println(res.Verdict.Kind, res.Rule.Name, set.Lookup("block-spam").ConditionDisplay())
	// Output: deny big-refund (action.action_type == "spam")
}
