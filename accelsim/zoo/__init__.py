"""Real-scale PyTorch networks for ``model.torch`` workloads (``accelsim.zoo.<module>:<factory>``).

Written from the papers' architecture descriptions, so that a price quoted for "ResNet-20" or
"MobileNetV2" is for the network the literature means (docs/zoo.md lists the counts and every
adaptation). Only this package imports torch; importing it draws no random numbers, and each
factory initialises from torch's global generator, so ``torch.manual_seed`` fixes the weights.
"""

from accelsim.zoo.mobilenet import mobilenet_v2
from accelsim.zoo.resnet import resnet18, resnet20
from accelsim.zoo.resnete import resnete18
from accelsim.zoo.transformer import char_transformer

__all__ = ["char_transformer", "mobilenet_v2", "resnet18", "resnet20", "resnete18"]
