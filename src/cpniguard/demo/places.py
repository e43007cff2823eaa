"""The fictional service area of the demo ISP: towns, streets, people, plans and support notes.

Towns are invented, in two rural states, each with a ZIP code of its state's prefix (Vermont
05xxx, Kansas 67xxx) and the area code of its region (802; 785 north, 620 south Kansas).
Telephone numbers are only ever drawn from the 555-0100..555-0199 range reserved for fiction,
email domains from RFC 2606 and static addresses from the RFC 5737 documentation blocks.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Town:
    name: str
    state: str
    postal_code: str
    area_code: str
    # Plans the network offers there: the fibre build-out reached some towns, not others.
    plans: tuple[str, ...]
    weight: int


@dataclass(frozen=True)
class Plan:
    name: str
    down_mbps: int
    up_mbps: int
    technology: str  # dsl, wireless or fiber: decides the equipment on loan


PLANS = {plan.name: plan for plan in (
    Plan("DSL 25", 25, 3, "dsl"),
    Plan("Fixed Wireless 50", 50, 10, "wireless"),
    Plan("Fixed Wireless 100", 100, 20, "wireless"),
    Plan("Fiber 300", 300, 300, "fiber"),
    Plan("Fiber 1000", 1000, 1000, "fiber"),
    Plan("Business Wireless 100", 100, 25, "wireless"),
    Plan("Business Fiber 500", 500, 500, "fiber"),
    Plan("Business Fiber 1000", 1000, 1000, "fiber"),
)}
RESIDENTIAL_WEIGHTS = {"DSL 25": 3, "Fixed Wireless 50": 4, "Fixed Wireless 100": 2,
                       "Fiber 300": 5, "Fiber 1000": 2}
FIBER = ("DSL 25", "Fiber 300", "Fiber 1000", "Business Fiber 500", "Business Fiber 1000")
WIRELESS = ("DSL 25", "Fixed Wireless 50", "Fixed Wireless 100", "Business Wireless 100")
MIXED = (*FIBER, "Fixed Wireless 50", "Business Wireless 100")

TOWNS = (
    Town("Millbrook", "VT", "05660", "802", FIBER, 9),
    Town("Cedar Hollow", "VT", "05671", "802", MIXED, 6),
    Town("North Alder", "VT", "05673", "802", WIRELESS, 4),
    Town("Birch Crossing", "VT", "05675", "802", FIBER, 5),
    Town("Stony Brook", "VT", "05677", "802", WIRELESS, 3),
    Town("East Harlow", "VT", "05679", "802", MIXED, 4),
    Town("Maple Notch", "VT", "05681", "802", WIRELESS, 2),
    Town("Wheatland", "KS", "67451", "785", FIBER, 8),
    Town("Cottonwood Springs", "KS", "67453", "785", MIXED, 5),
    Town("Elm Creek", "KS", "67455", "785", WIRELESS, 3),
    Town("Prairie Junction", "KS", "67457", "785", WIRELESS, 3),
    Town("Sandhill", "KS", "67561", "620", MIXED, 4),
    Town("Larkin", "KS", "67563", "620", WIRELESS, 2),
    Town("Osage Bend", "KS", "67565", "620", FIBER, 5),
)

STREETS = {
    "VT": ("Orchard Hill Rd", "Town Farm Rd", "Sugarhouse Ln", "Old Stage Rd", "Maple St",
           "Main St", "Church St", "River Rd", "Covered Bridge Rd", "Quarry Rd",
           "Pond Brook Rd", "North Branch Rd", "Hollow Rd", "Cobb Hill Rd", "Schoolhouse Rd",
           "Mill St", "Depot St", "Elm St", "Route 14", "Route 100", "Ridge Rd", "Meadow Ln"),
    "KS": ("Main St", "Elevator Rd", "County Rd 12", "N 1500 Rd", "E 400 Ave", "Sunflower Rd",
           "Wheat Ridge Rd", "Cottonwood Ave", "Santa Fe Trail", "Section Line Rd",
           "Prairie View Dr", "Grain Bin Ln", "Railroad Ave", "Mill Creek Rd", "Road 230",
           "Avenue K", "Windmill Rd", "Bluestem Rd"),
}

FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
    "Sarah", "Charles", "Karen", "Daniel", "Nancy", "Matthew", "Lisa", "Mark", "Betty",
    "Donald", "Margaret", "Steven", "Sandra", "Paul", "Ashley", "Andrew", "Dorothy", "Joshua",
    "Kimberly", "Kenneth", "Emily", "Kevin", "Donna", "Brian", "Michelle", "George", "Carol",
    "Timothy", "Amanda", "Ronald", "Melissa", "Edward", "Deborah", "Jason", "Stephanie",
    "Gary", "Rebecca", "Dale", "Wanda", "Wayne", "Darlene", "Clifford", "Arlene", "Dana",
    "Cody", "Hannah", "Tyler", "Abigail", "Levi", "Ruth", "Caleb", "Esther", "Wyatt", "Mae",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson",
    "Taylor", "Thomas", "Moore", "Martin", "Jackson", "Thompson", "White", "Harris", "Clark",
    "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Hill", "Green",
    "Adams", "Baker", "Nelson", "Carter", "Mitchell", "Roberts", "Phillips", "Campbell",
    "Parker", "Evans", "Edwards", "Collins", "Stewart", "Morris", "Rogers", "Reed", "Cook",
    "Morgan", "Bell", "Murphy", "Bailey", "Cooper", "Howard", "Ward", "Peterson", "Gray",
    "Whitfield", "Sawyer", "Hadley", "Buckley", "Thayer", "Lindqvist", "Schroeder", "Unruh",
    "Koehn", "Friesen", "Ostrander", "Pelletier", "Tremblay", "Ouellette", "Brault",
)
BUSINESSES = (
    "{town} General Store", "{last} Family Dairy", "{last} Farm & Feed",
    "{town} Veterinary Clinic", "{last} Auto & Tractor", "{town} Town Office",
    "{town} Public Library", "{last} Law Office", "{town} Diner", "{last} Orchards",
    "{last} Grain Co.", "{town} Family Dental", "{last} Insurance Agency", "{town} Hardware",
    "{town} Co-op", "{last} Construction", "{town} Fire District", "{last} Sugarworks",
)
EMAIL_DOMAINS = ("example.net", "example.net", "example.com", "example.com", "example.org")
ROUTERS = ("EX-AX1800", "EX-AX3000", "EX-AC1200")
TECHNOLOGY_EQUIPMENT = {"fiber": ("ont", "EX-GPON-4"), "dsl": ("modem", "EX-VDSL2")}
# RFC 5737 documentation blocks: the only addresses the demo hands out as static IPs.
STATIC_BLOCKS = ("192.0.2", "198.51.100", "203.0.113")

# (role of the staff member, channel, what the subscriber must have for the note to make
# sense, note). "wired" is DSL or fibre; an empty requirement fits anyone. Slots in braces are
# filled in by the seeder.
NOTES = (
    ("support", "phone", "", "Customer reported intermittent drops in the evening; router log "
     "showed WAN resets. Power-cycled the {gear}, asked customer to call back if it recurs."),
    ("support", "phone", "", "Slow speeds on Wi-Fi only; wired test at {speed} Mbps matches "
     "plan. Moved router to 5 GHz channel {channel}, customer satisfied."),
    ("support", "chat", "", "Customer portal password reset after identity check with the "
     "account PIN."),
    ("support", "phone", "", "No internet after the storm; confirmed area outage (incident "
     "INC-{incident}) and gave a restoration estimate of {hours} hours."),
    ("support", "email", "", "Walked customer through reconnecting a printer and two laptops "
     "to the new Wi-Fi network name."),
    ("support", "phone", "voip", "VoIP line had no dial tone; ATA reprovisioned remotely, test "
     "call completed."),
    ("support", "chat", "", "Customer asked about upgrading; explained plans available at the "
     "service address. Will call back after talking it over."),
    ("support", "phone", "", "Streaming buffering at night; usage graph shows link saturated "
     "by backups. Suggested scheduling backups overnight."),
    ("billing", "phone", "", "Customer disputed a late fee; waived as a courtesy, first late "
     "payment in {years} years."),
    ("billing", "phone", "", "Card on file expired; customer updated it through the "
     "processor's portal and autopay was re-enabled."),
    ("billing", "email", "", "Explained the prorated charge on the last bill after the plan "
     "change."),
    ("billing", "phone", "", "Payment arrangement agreed: balance split over {months} months."),
    ("billing", "note", "", "Paper bill returned as undeliverable; left message asking customer "
     "to confirm the billing address."),
    ("noc", "note", "dsl", "Line test: SNR margin {snr} dB, {crc} CRC errors in 24 h. "
     "Scheduled a technician visit."),
    ("noc", "field", "wireless", "Tower sector {sector} realigned after high winds; customer "
     "radio signal improved to -{rssi} dBm."),
    ("noc", "field", "", "Replaced failed {gear} at the service address; signal levels normal, "
     "service restored."),
    ("noc", "field", "wired", "Drop cable cut by a contractor; spliced and tested, customer "
     "back online."),
    ("noc", "note", "", "Customer equipment flagged for repeated DHCP renewals; firmware "
     "updated remotely to {firmware}."),
)
# Later entries on the same ticket, a day or a few after the first.
FOLLOW_UPS = (
    ("phone", "Follow-up call: customer confirms the problem has not come back; ticket closed."),
    ("phone", "Called back as promised; no answer, left a voicemail with the ticket number."),
    ("email", "Customer wrote back that everything is working again; ticket closed."),
    ("note", "Checked monitoring after the fix: no further drops in the last 48 h."),
)
