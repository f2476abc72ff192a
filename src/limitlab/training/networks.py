"""Network architectures of the paper.

Every network is a :class:`Net`: ``features`` (everything up to the penultimate representation z) followed by
a linear ``head`` (a = W z + b). The soft regulariser (paper eq. 8) and the analysis use z and W directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from limitlab.errors import LimitlabError

if TYPE_CHECKING:
    from limitlab.data.registry import DatasetInfo
    from limitlab.experiment.grid import RunSpec


class Net(nn.Module):
    def __init__(self, features: nn.Module, head: nn.Linear, arch: str):
        super().__init__()
        self.features = features
        self.head = head
        self.arch = arch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def _conv_bn_relu(cin: int, cout: int, k: int, s: int, p: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, k, s, p), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def cnn4(num_classes: int, in_channels: int = 1, q_network: bool = False, head_bias: bool = True) -> Net:
    """MNIST 4-layer CNN (paper Table 3): 28×28 → 32×14×14 → 32×7×7 → 64×3×3 → 256×1×1 → fc 128 → fc K.

    The q-network variant has BatchNorm1d after the 128-unit layer, as in the authors' config.
    """
    layers = [
        *_conv_bn_relu(in_channels, 32, 4, 2, 1),
        *_conv_bn_relu(32, 32, 4, 2, 1),
        *_conv_bn_relu(32, 64, 3, 2, 0),
        *_conv_bn_relu(64, 256, 3, 1, 0),
        nn.Flatten(),
        nn.Linear(256, 128),
    ]
    if q_network:
        layers.append(nn.BatchNorm1d(128))
    layers.append(nn.ReLU(inplace=True))
    return Net(nn.Sequential(*layers), nn.Linear(128, num_classes, bias=head_bias), "cnn4")


def mlp4(num_classes: int, in_features: int = 784, dropout: float = 0.0, head_bias: bool = True) -> Net:
    """Figure 1 MLP: Flatten → 4 × [Linear 512 → BatchNorm1d → ReLU (→ Dropout)] → Linear K."""
    layers: list[nn.Module] = [nn.Flatten()]
    width = in_features
    for _ in range(4):
        layers += [nn.Linear(width, 512), nn.BatchNorm1d(512), nn.ReLU(inplace=True)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = 512
    return Net(nn.Sequential(*layers), nn.Linear(512, num_classes, bias=head_bias), "mlp4")


def resnet34_cifar(num_classes: int, head_bias: bool = True, in_channels: int = 3) -> Net:
    """torchvision ResNet-34 for 32×32 inputs: 3×3 stride-1 first conv, no max-pool (paper App. B).

    torchvision's adaptive average pool equals the authors' avg_pool2d(4) on the final 4×4 map. torchvision
    re-initialises every convolution with Kaiming-normal (fan-out, std √(2/(9·C_out)) ≈ 0.059 for a 3×3×64
    kernel); the authors' ``resnet_cifar`` keeps PyTorch's default (Kaiming-uniform with a = √5, std
    1/√(3·fan_in) ≈ 0.024 there), so every convolution is reset to the default here. BatchNorm (γ = 1, β = 0)
    and the linear head are the defaults in both.
    """
    import torchvision  # here, not at the top: importing it costs 1.5 s, which MNIST runs do not need

    m = torchvision.models.resnet34(num_classes=num_classes)
    for module in m.modules():
        if isinstance(module, nn.Conv2d):
            module.reset_parameters()
    m.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
    m.maxpool = nn.Identity()
    head = nn.Linear(m.fc.in_features, num_classes, bias=head_bias)
    m.fc = nn.Identity()
    return Net(m, head, "resnet34")


def resnet50(num_classes: int, pretrained: Path | None = None, head_bias: bool = True) -> Net:
    """torchvision ResNet-50 (Clothing1M). ImageNet weights only from a local file; never downloaded."""
    import torchvision

    m = torchvision.models.resnet50()
    if pretrained is not None:
        path = Path(pretrained)
        if not path.is_file():
            raise LimitlabError(
                f"model.pretrained: ImageNet weights file {path} does not exist. Put torchvision's "
                "resnet50 weights there (e.g. resnet50-11ad3fa6.pth) or remove 'pretrained' for random init")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            m.load_state_dict(state)
        except Exception as exc:  # wrong file: name it
            raise LimitlabError(f"model.pretrained: {path} is not a torchvision resnet50 state dict ({exc})") from None
    head = nn.Linear(m.fc.in_features, num_classes, bias=head_bias)
    m.fc = nn.Identity()
    return Net(m, head, "resnet50")


def authors_shape_passes(net: Net, input_shape: tuple[int, ...], include_head: bool = True) -> None:
    """Update BatchNorm running statistics as the authors' network builder does, before any training.

    The authors' ``parse_feed_forward`` (nn_utils.py, v0.1) infers each config entry's input shape by running
    the layers built so far, in train mode, on 4 inputs drawn from N(0, 1); it does this before adding each
    entry and once at the end. With L entries the BatchNorm of entry j (0-based) is thus updated L − j times
    (cnn4: 7 / 6 / 5 / 4 for its four convolutions) by statistics of noise, instead of starting from PyTorch's
    (0, 1). Their ResNets are built whole and run once. At n = 1,000 (4 steps an epoch) the running statistics
    still carry ~20 % of that start at CE's best epoch 3, which moves its eval-mode accuracy and so model
    selection (docs/results.md). An entry starts at a Conv2d, Linear or Flatten, as in the authors' configs;
    ``include_head`` is False for the soft regulariser's classifier, whose last layer is built separately.
    """
    if net.arch.startswith("resnet"):
        groups: list[list[nn.Module]] = [[net]]
    else:
        groups = []
        for m in net.features:
            if isinstance(m, (nn.Conv2d, nn.Linear, nn.Flatten)) or not groups:
                groups.append([m])
            else:
                groups[-1].append(m)
        if include_head:
            groups.append([net.head])
    was_training = net.training
    net.train()
    with torch.no_grad():
        for k in range(1, len(groups) + 1):
            x = torch.randn(4, *input_shape)
            for group in groups[:k]:
                for m in group:
                    x = m(x)
    net.train(was_training)


def build(arch: str, num_classes: int, in_channels: int, image_size: int, *, q_network: bool = False,
          dropout: float = 0.0, pretrained: Path | None = None, head_bias: bool = True) -> Net:
    if arch == "cnn4":
        if image_size != 28:
            raise LimitlabError(f"model.arch cnn4 expects 28×28 inputs, the dataset has {image_size}×{image_size} "
                                "(your own dataset: dataset.resize: 28, or model.arch: mlp4)")
        return cnn4(num_classes, in_channels, q_network=q_network, head_bias=head_bias)
    if arch == "mlp4":
        return mlp4(num_classes, in_channels * image_size * image_size,
                    dropout=0.0 if q_network else dropout, head_bias=head_bias)
    if arch == "resnet34":
        return resnet34_cifar(num_classes, head_bias=head_bias, in_channels=in_channels)
    if arch == "resnet50":
        if in_channels != 3:
            raise LimitlabError(f"model.arch resnet50 (ImageNet's) takes RGB images, the dataset has {in_channels} "
                                "channel(s); use resnet34, cnn4 or mlp4")
        return resnet50(num_classes, None if q_network else pretrained, head_bias=head_bias)
    raise LimitlabError(f"unknown architecture {arch!r} (accepted: cnn4, mlp4, resnet34, resnet50)")


def build_networks(spec: RunSpec, info: DatasetInfo, uses_q: bool, head_bias: bool = True) -> nn.ModuleDict:
    """The networks of one run: ``classifier`` and, for a method with a gradient predictor, ``q``.

    ``q`` is LIMIT's gradient predictor (Harutyunyan et al., ICML 2020: it predicts the classifier's output
    gradient from x alone, without the label); its architecture is the classifier's unless ``model.q_arch``
    names another. With ``model.bn_warmup: authors`` BatchNorm statistics start as in the authors' code
    (:func:`authors_shape_passes`)."""
    arch = spec.model.resolve(spec.dataset.name)
    common = dict(num_classes=info.num_classes, in_channels=info.channels, image_size=info.image_size)
    nets = {"classifier": build(arch, **common, dropout=spec.model.dropout, pretrained=spec.model.pretrained,
                                head_bias=head_bias)}
    if uses_q:
        q_arch = arch if spec.model.q_arch == "same" else spec.model.q_arch
        nets["q"] = build(q_arch, **common, q_network=True)
    if spec.model.bn_warmup == "authors":
        shape = (info.channels, info.image_size, info.image_size)
        for name, net in nets.items():
            authors_shape_passes(net, shape, include_head=head_bias or name != "classifier")
    return nn.ModuleDict(nets)
