"""The vocabulary of the synthetic shop: categories, their nouns, attributes, brands and prices.

Plain data, kept apart from the generator's maths. A category's first noun is the one its
products' titles use most; the others are what shoppers also type (and descriptions
sometimes mention), so plain BM25 meets a realistic vocabulary mismatch.
"""

from __future__ import annotations

from typing import TypedDict


class CategorySpec(TypedDict):
    name: str
    nouns: list[str]
    attributes: list[str]
    brands: list[str]
    median_price: float


CATEGORIES: list[CategorySpec] = [
    {
        "name": "Running Shoes",
        "nouns": ["running shoes", "sneakers", "trainers"],
        "attributes": ["red", "blue", "black", "white", "waterproof", "lightweight", "trail", "cushioned"],
        "brands": ["Nike", "Adidas", "Asics", "Brooks", "Hoka", "Saucony", "Puma"],
        "median_price": 110.0,
    },
    {
        "name": "Laptops",
        "nouns": ["laptop", "notebook"],
        "attributes": ["gaming", "ultralight", "16gb", "touchscreen", "oled", "silver", "business", "convertible"],
        "brands": ["Lenovo", "Dell", "HP", "Asus", "Acer", "Apple", "MSI"],
        "median_price": 950.0,
    },
    {
        "name": "Headphones",
        "nouns": ["headphones", "earbuds"],
        "attributes": ["wireless", "noise cancelling", "bluetooth", "over ear", "sport", "black", "white", "bass"],
        "brands": ["Sony", "Bose", "JBL", "Sennheiser", "Jabra", "Beats", "Anker"],
        "median_price": 130.0,
    },
    {
        "name": "Coffee Makers",
        "nouns": ["coffee maker", "espresso machine"],
        "attributes": ["programmable", "stainless", "compact", "automatic", "frother", "drip", "black", "thermal"],
        "brands": ["DeLonghi", "Breville", "Philips", "Krups", "Nespresso", "Melitta"],
        "median_price": 140.0,
    },
    {
        "name": "Backpacks",
        "nouns": ["backpack", "rucksack"],
        "attributes": ["waterproof", "hiking", "laptop", "travel", "black", "green", "lightweight", "rolltop"],
        "brands": ["Osprey", "Deuter", "Samsonite", "Herschel", "Jansport", "Fjallraven"],
        "median_price": 75.0,
    },
    {
        "name": "Smartphones",
        "nouns": ["smartphone", "phone"],
        "attributes": ["5g", "128gb", "256gb", "dual sim", "black", "blue", "unlocked", "compact"],
        "brands": ["Samsung", "Apple", "Google", "Xiaomi", "Motorola", "OnePlus"],
        "median_price": 600.0,
    },
    {
        "name": "T-Shirts",
        "nouns": ["t shirt", "tee"],
        "attributes": ["cotton", "organic", "slim", "white", "black", "graphic", "vneck", "oversized"],
        "brands": ["Uniqlo", "Levis", "Hanes", "Champion", "Patagonia", "Gildan"],
        "median_price": 25.0,
    },
    {
        "name": "Watches",
        "nouns": ["watch", "smartwatch"],
        "attributes": ["gps", "waterproof", "leather", "steel", "fitness", "analog", "black", "gold"],
        "brands": ["Garmin", "Casio", "Seiko", "Fossil", "Citizen", "Amazfit"],
        "median_price": 220.0,
    },
    {
        "name": "Office Chairs",
        "nouns": ["office chair", "desk chair"],
        "attributes": ["ergonomic", "mesh", "leather", "adjustable", "lumbar", "gaming", "black", "swivel"],
        "brands": ["Steelcase", "Ikea", "Secretlab", "Flexispot", "Hbada", "Sihoo"],
        "median_price": 260.0,
    },
    {
        "name": "Cameras",
        "nouns": ["camera", "mirrorless camera"],
        "attributes": ["4k", "compact", "full frame", "vlogging", "zoom", "black", "wifi", "waterproof"],
        "brands": ["Canon", "Nikon", "Sony", "Fujifilm", "Panasonic", "Olympus"],
        "median_price": 800.0,
    },
    {
        "name": "Blenders",
        "nouns": ["blender", "smoothie maker"],
        "attributes": ["personal", "glass", "portable", "quiet", "1000w", "black", "stainless", "vacuum"],
        "brands": ["Vitamix", "Ninja", "Nutribullet", "Oster", "KitchenAid", "Braun"],
        "median_price": 90.0,
    },
    {
        "name": "Jackets",
        "nouns": ["jacket", "coat"],
        "attributes": ["rain", "down", "fleece", "hooded", "black", "navy", "insulated", "softshell"],
        "brands": ["Columbia", "Arcteryx", "Marmot", "Helly Hansen", "Mammut", "Jack Wolfskin"],
        "median_price": 160.0,
    },
    {
        "name": "Jeans",
        "nouns": ["jeans", "denim"],
        "attributes": ["slim", "straight", "skinny", "stretch", "black", "blue", "raw", "bootcut"],
        "brands": ["Levis", "Wrangler", "Lee", "Diesel", "Guess", "Mavi"],
        "median_price": 70.0,
    },
    {
        "name": "Tents",
        "nouns": ["tent", "shelter"],
        "attributes": ["2 person", "4 person", "ultralight", "waterproof", "family", "green", "backpacking", "pop up"],
        "brands": ["MSR", "Coleman", "Vango", "Naturehike", "Hilleberg", "Quechua"],
        "median_price": 210.0,
    },
    {
        "name": "Sofas",
        "nouns": ["sofa", "couch"],
        "attributes": ["leather", "velvet", "corner", "sleeper", "grey", "blue", "modular", "3 seater"],
        "brands": ["Ikea", "Made", "Habitat", "Swoon", "Loaf", "Heals"],
        "median_price": 900.0,
    },
    {
        "name": "Vacuum Cleaners",
        "nouns": ["vacuum cleaner", "vacuum"],
        "attributes": ["cordless", "robot", "bagless", "handheld", "pet", "upright", "quiet", "hepa"],
        "brands": ["Dyson", "Shark", "Miele", "Roborock", "Bosch", "Vax"],
        "median_price": 280.0,
    },
    {
        "name": "Desk Lamps",
        "nouns": ["desk lamp", "lamp"],
        "attributes": ["led", "dimmable", "clamp", "usb", "brass", "black", "wireless charging", "architect"],
        "brands": ["BenQ", "Anglepoise", "Ikea", "TaoTronics", "Philips", "Lepro"],
        "median_price": 45.0,
    },
    {
        "name": "Yoga Mats",
        "nouns": ["yoga mat", "exercise mat"],
        "attributes": ["non slip", "thick", "cork", "travel", "purple", "eco", "rubber", "foldable"],
        "brands": ["Manduka", "Liforme", "Gaiam", "Jade", "Lululemon", "Alo"],
        "median_price": 55.0,
    },
    {
        "name": "Water Bottles",
        "nouns": ["water bottle", "flask"],
        "attributes": ["insulated", "stainless", "1l", "kids", "glass", "sport", "bpa free", "collapsible"],
        "brands": ["Hydro Flask", "Nalgene", "Camelbak", "Klean Kanteen", "Yeti", "Chilly"],
        "median_price": 30.0,
    },
    {
        "name": "Sunglasses",
        "nouns": ["sunglasses", "shades"],
        "attributes": ["polarized", "aviator", "round", "sport", "black", "tortoise", "mirrored", "oversized"],
        "brands": ["Ray Ban", "Oakley", "Persol", "Maui Jim", "Costa", "Polaroid"],
        "median_price": 120.0,
    },
    {
        "name": "Keyboards",
        "nouns": ["keyboard", "mechanical keyboard"],
        "attributes": ["wireless", "rgb", "tenkeyless", "ergonomic", "silent", "white", "60 percent", "backlit"],
        "brands": ["Logitech", "Keychron", "Corsair", "Razer", "Das Keyboard", "Ducky"],
        "median_price": 95.0,
    },
    {
        "name": "Monitors",
        "nouns": ["monitor", "display"],
        "attributes": ["4k", "curved", "ultrawide", "144hz", "ips", "27 inch", "usb c", "gaming"],
        "brands": ["LG", "Dell", "Samsung", "BenQ", "AOC", "ViewSonic"],
        "median_price": 330.0,
    },
    {
        "name": "Power Drills",
        "nouns": ["drill", "drill driver"],
        "attributes": ["cordless", "18v", "hammer", "brushless", "compact", "combi", "impact", "kit"],
        "brands": ["Makita", "DeWalt", "Bosch", "Milwaukee", "Ryobi", "Einhell"],
        "median_price": 150.0,
    },
    {
        "name": "Guitars",
        "nouns": ["guitar", "acoustic guitar"],
        "attributes": ["electric", "classical", "left handed", "beginner", "sunburst", "black", "bass", "travel"],
        "brands": ["Fender", "Gibson", "Yamaha", "Epiphone", "Ibanez", "Taylor"],
        "median_price": 450.0,
    },
]

MODEL_NAMES = [
    "Air", "Pro", "Max", "Lite", "Plus", "Ultra", "Go", "One", "Edge", "Nova", "Prime", "Flex",
    "Core", "Vibe", "Zen", "Aero", "Pulse", "Spark", "Terra", "Atlas",
]

DESCRIPTION_OPENERS = [
    "Designed for everyday use",
    "A customer favourite",
    "Built to last",
    "Our best seller this season",
    "Great value for money",
    "Made with care",
    "A reliable choice",
    "Engineered for comfort",
]

DESCRIPTION_FILLERS = [
    "Free returns within 30 days.",
    "Ships in recyclable packaging.",
    "Backed by a two year warranty.",
    "Easy to clean and maintain.",
    "Available while stocks last.",
    "Trusted by thousands of customers.",
]

PRICE_WORDS_LOW = ["cheap", "budget"]
PRICE_WORDS_HIGH = ["premium"]
